"""``lamina images build``: build the base and runtime images (offline, cached by build-context hash)."""

from __future__ import annotations

import click

from lamina.config import Settings


@click.group()
def images() -> None:
    """Runtime images."""


@images.command()
@click.option("--force", is_flag=True, help="Rebuild the runtime images even when they are current.")
@click.option("--stack", is_flag=True, help="Also the compose stack's images, offline: PostgreSQL, Redis and "
                                            "the platform (docker-compose.yml's LAMINA_*_IMAGE variables).")
@click.argument("runtime", nargs=-1)
def build(force: bool, stack: bool, runtime: tuple[str, ...]) -> None:
    """Build every runtime image (or the RUNTIMEs named: python, nodejs, provided, python3.11, ...)."""
    from lamina.executor import images as images_mod

    settings = Settings.from_env()
    client = images_mod.docker_client()
    try:
        built = images_mod.ensure_images(client, settings, list(runtime) or None, force=force, log=click.echo)
        if stack:
            built.update(images_mod.ensure_stack_images(client, settings, log=click.echo))
    except (images_mod.ImageBuildError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        client.close()
    for family, tag in built.items():
        click.echo(f"{family}: {tag}")
