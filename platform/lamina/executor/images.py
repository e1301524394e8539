"""Runtime images: build the Debian base offline when missing and each ``runtimes/<family>/`` image, cached.

No registry is reachable, so nothing is ever pulled: the base is made with ``mmdebstrap`` and imported
(``docker import``), and every runtime Dockerfile starts ``FROM ${BASE}``. A runtime image carries the
label ``lamina.context-hash`` (sha256 of its build context plus the base image's id) and is rebuilt only
when that hash changes, so a changed runtime (or a new base) rebuilds and nothing else does.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
import docker.errors

from lamina import runtimes
from lamina.config import Settings

FAMILIES = runtimes.FAMILIES
HASH_LABEL = "lamina.context-hash"
BASE_SUITE = "bookworm"
BASE_PACKAGES = runtimes.BASE_PACKAGES


class ImageBuildError(RuntimeError):
    """A base or runtime image could not be built."""


def repo_root() -> Path:
    """The checkout holding ``runtimes/`` (platform/lamina/executor/images.py -> parents[3])."""
    return Path(__file__).resolve().parents[3]


def runtimes_dir() -> Path:
    return repo_root() / "runtimes"


def agent_dir() -> Path:
    """The host directory holding ``agent.py``, bind-mounted read-only at ``/var/lamina``."""
    return Path(__file__).resolve().parents[1] / "agent"


def published_agent_dir(data_dir: Path) -> Path:
    """The agent as environments mount it: a copy under the data directory, named by its content.

    The engine resolves bind mounts on its host, and the data directory is the one path every process of
    lamina shares with it (at the same path, in containers too: docker-compose.yml, a fleet's nodes); the
    package's own directory may exist only inside an image. Content-named, so a new agent never changes the
    file under a running environment.
    """
    source = agent_dir() / "agent.py"
    data = source.read_bytes()
    target = data_dir / "agent" / hashlib.sha256(data).hexdigest()[:16]
    if not (target / "agent.py").is_file():
        target.mkdir(parents=True, exist_ok=True)
        tmp = target / f".agent.py.{os.getpid()}"
        tmp.write_bytes(data)
        tmp.chmod(0o644)
        os.replace(tmp, target / "agent.py")
        target.chmod(0o755)
        (data_dir / "agent").chmod(0o755)
    return target


def family_for_runtime(runtime: str) -> str:
    """The image family of a Lambda runtime identifier; raise ValueError for one lamina does not run."""
    return runtimes.get(runtime).family


def image_for_runtime(settings: Settings, runtime: str) -> str:
    """The image tag for a Lambda runtime identifier, e.g. python3.11 -> lamina/python:latest."""
    return runtimes.image_for(runtime, settings.image_prefix)


def base_image_tag(settings: Settings, suite: str = BASE_SUITE) -> str:
    """The base image runtime images of Debian ``suite`` are built on: ``settings.base_image`` (for every
    suite), or lamina's own Debian base of that release."""
    return settings.base_image or f"{settings.image_prefix}/base:{suite}"


def context_hash(context: Path, base_id: str) -> str:
    """sha256 over the build context (relative paths, modes and contents) and the base image id."""
    digest = hashlib.sha256()
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        rel = path.relative_to(context).as_posix()
        if "__pycache__" in rel.split("/"):
            continue
        digest.update(rel.encode() + b"\0" + oct(path.stat().st_mode & 0o777).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(b"base\0" + base_id.encode())
    return digest.hexdigest()


def ensure_base_image(client: docker.DockerClient, settings: Settings, log: Callable[[str], object] = print,
                      suite: str = BASE_SUITE, name: str | None = None,
                      packages: tuple[str, ...] | None = None) -> str:
    """Return the id of base image ``name`` (default: ``suite``'s shared one), building it offline from
    Debian ``suite`` with ``packages`` (mmdebstrap + import) when missing.

    With ``settings.base_image`` set, that image must already exist: lamina never pulls.
    """
    tag = base_image_tag(settings, name or suite)
    try:
        return str(client.images.get(tag).id)
    except docker.errors.ImageNotFound:
        if settings.base_image:
            raise ImageBuildError(f"base image {tag} (LAMINA_BASE_IMAGE) does not exist locally") from None
    if shutil.which("mmdebstrap") is None:
        raise ImageBuildError(f"base image {tag} is missing and mmdebstrap is not installed (apt-get install it)")
    repo, _, version = tag.rpartition(":")
    log(f"building base image {tag} with mmdebstrap (a few minutes)")
    with tempfile.TemporaryDirectory(prefix="lamina-base-") as tmp:
        tar = Path(tmp) / "base.tar"
        cmd = [
            "mmdebstrap",
            "--variant=apt",
            f"--include={','.join(packages or runtimes.base_packages(suite))}",
            "--format=tar",
            suite,
            str(tar),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ImageBuildError(f"mmdebstrap failed ({proc.returncode}): {proc.stderr[-2000:]}")
        client.api.import_image(src=str(tar), repository=repo, tag=version)
    try:
        return str(client.images.get(tag).id)
    except docker.errors.ImageNotFound:
        raise ImageBuildError(f"docker import did not produce {tag}") from None


def build_context_image(
    client: docker.DockerClient,
    context: Path,
    tag: str,
    base: str,
    base_id: str,
    force: bool = False,
    log: Callable[[str], object] = print,
) -> str:
    """Build ``context`` as ``tag`` with build arg BASE unless an image with the same context hash exists."""
    if not (context / "Dockerfile").is_file():
        raise ImageBuildError(f"no Dockerfile in {context}")
    wanted = context_hash(context, base_id)
    if not force:
        try:
            current = client.images.get(tag)
        except docker.errors.ImageNotFound:
            current = None
        if current is not None and (current.labels or {}).get(HASH_LABEL) == wanted:
            return str(current.id)
    log(f"building image {tag} from {context}")
    with tempfile.TemporaryDirectory(prefix="lamina-context-") as tmp:
        return _build(client, _with_packages(context, Path(tmp), log), tag, base, wanted)


@contextmanager
def _overlaid(context: Path, overlay: str | None) -> Iterator[Path]:
    """``context``, or a copy of it with the files of ``runtimes/<overlay>/`` laid over (one runtime client,
    another set of packages)."""
    if overlay is None:
        yield context
        return
    with tempfile.TemporaryDirectory(prefix="lamina-overlay-") as tmp:
        merged = Path(tmp) / context.name
        shutil.copytree(context, merged, ignore=shutil.ignore_patterns("__pycache__", "node_modules"))
        shutil.copytree(runtimes_dir() / overlay, merged, dirs_exist_ok=True)
        yield merged


def _with_packages(context: Path, tmp: Path, log: Callable[[str], object]) -> Path:
    """The build context, plus the pinned packages it lists (the AWS SDK a Lambda runtime ships),
    installed here from the package registries, since the image build itself cannot reach them:
    ``requirements.txt`` with pip into ``packages/``, ``package.json`` + ``package-lock.json`` with
    ``npm ci`` into ``node_modules/``. A context with neither is used as it is."""
    requirements, lock = context / "requirements.txt", context / "package-lock.json"
    if not requirements.is_file() and not lock.is_file():
        return context
    staged = tmp / context.name
    shutil.copytree(context, staged, ignore=shutil.ignore_patterns("__pycache__", "node_modules", "packages"))
    if requirements.is_file():
        log(f"installing {requirements} for the image (pip)")
        _run([sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check",
              "--only-binary=:all:", "--target", str(staged / "packages"), "-r", str(requirements)],
             staged, f"pip could not install {requirements} (is the package index reachable?)")
    if lock.is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise ImageBuildError(f"{lock} needs npm to install: apt-get install -y npm")
        log(f"installing {lock} for the image (npm ci)")
        _run([npm, "ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
             staged, f"npm could not install {lock} (is the registry reachable?)")
    return staged


def _run(cmd: list[str], cwd: Path, failure: str) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ImageBuildError(f"{failure}: {proc.stderr[-2000:]}")


def _build(client: docker.DockerClient, context: Path, tag: str, base: str, wanted: str) -> str:
    try:
        image, _ = client.images.build(
            path=str(context),
            tag=tag,
            buildargs={"BASE": base},
            labels={HASH_LABEL: wanted},
            rm=True,
            forcerm=True,
            pull=False,
        )
    except docker.errors.BuildError as exc:
        lines = [str(chunk.get("stream") or chunk.get("error") or "") for chunk in exc.build_log]
        raise ImageBuildError(f"building {tag} failed: {exc.msg}\n{''.join(lines)[-3000:]}") from None
    except docker.errors.APIError as exc:
        raise ImageBuildError(f"building {tag} failed: {exc}") from None
    return str(image.id)


def ensure_images(
    client: docker.DockerClient,
    settings: Settings,
    wanted: Iterable[str] | None = None,
    force: bool = False,
    log: Callable[[str], object] = print,
) -> dict[str, str]:
    """Make sure the base and the runtime images exist and are current; return ``{family: tag}``.

    ``wanted`` may name families (``python``) or Lambda runtime identifiers (``python3.11``);
    None means every family. ``force`` rebuilds the runtime images even when their hash matches.
    Raises ImageBuildError.
    """
    families: list[str] = []
    for name in wanted or FAMILIES:
        family = name if name in FAMILIES else family_for_runtime(name)
        if family not in families:
            families.append(family)
    base_ids: dict[str, str] = {}
    built: dict[str, str] = {}
    for family in families:
        row = runtimes.BY_FAMILY[family]
        if row.base_name not in base_ids:
            base_ids[row.base_name] = ensure_base_image(client, settings, log=log, suite=row.suite,
                                                        name=row.base_name, packages=row.all_base_packages)
        tag = f"{settings.image_prefix}/{family}:latest"
        with _overlaid(runtimes_dir() / row.folder, row.overlay) as context:
            build_context_image(client, context, tag, base_image_tag(settings, row.base_name),
                                base_ids[row.base_name], force=force, log=log)
        built[family] = tag
    return built


def docker_client() -> docker.DockerClient:
    """A Docker client from the environment (DOCKER_HOST or the local socket), for callers outside executor/."""
    return docker.from_env(timeout=600)


# -- the compose stack's images, offline (docker-compose.yml with LAMINA_POSTGRES_IMAGE / LAMINA_REDIS_IMAGE)

STACK_SOURCES = ("platform", "migrations", "runtimes", "setup.cfg", "pyproject.toml", "README.md")
_STACK_IGNORE = shutil.ignore_patterns("__pycache__", "node_modules", "packages", "*.pyc", ".mypy_cache")


def stack_images_dir() -> Path:
    return repo_root() / "deploy" / "images"


def _install_requires() -> list[str]:
    """lamina's own dependencies, as setup.cfg lists them."""
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(repo_root() / "setup.cfg")
    return [line.split("#")[0].strip() for line in cfg["options"]["install_requires"].splitlines()
            if line.split("#")[0].strip()]


def _sources_hash(base_id: str) -> str:
    digest = hashlib.sha256()
    for name in ("deploy/images/platform", *STACK_SOURCES):
        path = repo_root() / name
        files = [path] if path.is_file() else sorted(
            p for p in path.rglob("*") if p.is_file() and not {"__pycache__", "node_modules", "packages"}
            & set(p.relative_to(path).parts))
        for f in files:
            digest.update(f.relative_to(repo_root()).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(f.read_bytes()).digest())
    digest.update(b"requires\0" + "\n".join(_install_requires()).encode() + b"\0base\0" + base_id.encode())
    return digest.hexdigest()


def _current(client: docker.DockerClient, tag: str, wanted: str) -> str | None:
    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None
    return str(image.id) if (image.labels or {}).get(HASH_LABEL) == wanted else None


def ensure_stack_images(client: docker.DockerClient, settings: Settings,
                        log: Callable[[str], object] = print) -> dict[str, str]:
    """Build, offline, the images docker-compose.yml runs when no registry is reachable: PostgreSQL and Redis
    from Debian's packages (each on a base of its own, made with mmdebstrap) and the lamina platform with its
    dependencies installed here. Cached like the runtime images; returns ``{service: tag}``."""
    settings = settings.with_(base_image=None)  # the stack's bases are its own (PostgreSQL, Redis inside)
    prefix = settings.image_prefix
    built: dict[str, str] = {}
    for service, packages in (("postgres", ("postgresql",)), ("redis", ("redis-server",))):
        base_name = f"{BASE_SUITE}-{service}"
        base_id = ensure_base_image(client, settings, log=log, suite=BASE_SUITE, name=base_name, packages=packages)
        tag = f"{prefix}/{service}:offline"
        build_context_image(client, stack_images_dir() / service, tag, base_image_tag(settings, base_name), base_id,
                            log=log)
        built[service] = tag
    base_id = ensure_base_image(client, settings, log=log)
    tag = f"{prefix}/platform:latest"
    wanted = _sources_hash(base_id)
    if _current(client, tag, wanted) is None:
        log(f"building image {tag} (lamina and its dependencies)")
        with tempfile.TemporaryDirectory(prefix="lamina-platform-") as tmp:
            staged = Path(tmp) / "platform-image"
            shutil.copytree(stack_images_dir() / "platform", staged)
            for name in STACK_SOURCES:
                src = repo_root() / name
                if src.is_dir():
                    shutil.copytree(src, staged / "src" / name, ignore=_STACK_IGNORE)
                else:
                    (staged / "src").mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, staged / "src" / name)
            # Wheels for the base's python3, whatever Python runs this; pip still decides environment markers
            # by this one, and the base's Debian python3 (3.11.2) needs what redis asks for below 3.11.3
            # (async-timeout), so that is named here.
            version = client.containers.run(base_image_tag(settings), [
                "python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], remove=True)
            _run([sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check",
                  "--only-binary=:all:", "--python-version", version.decode().strip(),
                  "--target", str(staged / "packages"), *_install_requires(), "async-timeout>=4.0.3"],
                 staged, "pip could not install lamina's dependencies (is the package index reachable?)")
            _build(client, staged, tag, base_image_tag(settings), wanted)
    built["platform"] = tag
    return built
