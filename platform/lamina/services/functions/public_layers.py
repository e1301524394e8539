"""The public layers lamina publishes on install (``layers/``): Powertools for AWS Lambda, at AWS's ARNs.

``layers/layers.json`` names each layer, its recipe folder and its runtimes. A recipe is a
``requirements.txt`` (pip installs it under ``python/``) or a ``package.json`` with its
``package-lock.json`` (``npm ci`` under ``nodejs/``), built here from the package registries into a zip
with fixed timestamps, so the same recipe gives the same bytes and ``install`` publishes a new version
only when the content changed. They are published in the publisher's account (AWS's 017000801446), which
``lamina.services.functions.layers`` lets every account reference and list.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lamina.errors import InvalidParameterValueException
from lamina.services.common import Deps
from lamina.services.functions import layers, zips
from lamina.services.iam import iam
from lamina.services.records import LayerVersionInput
from lamina.store import queries, security

RECIPES = Path(__file__).resolve().parents[4] / "layers"  # platform/lamina/services/functions -> checkout


class LayerBuildError(RuntimeError):
    """A recipe could not be built (no pip or npm, or the registry is unreachable)."""


@dataclass(frozen=True)
class PublicLayer:
    name: str
    recipe: str
    runtimes: tuple[str, ...]
    description: str
    license: str | None


def catalog(recipes: Path = RECIPES) -> tuple[str, list[PublicLayer]]:
    """(publisher account, the layers) of ``layers/layers.json``."""
    doc = json.loads((recipes / "layers.json").read_text())
    return str(doc["account"]), [
        PublicLayer(d["name"], d["recipe"], tuple(d["runtimes"]), d.get("description", ""), d.get("license"))
        for d in doc["layers"]
    ]


def build(recipe: Path) -> bytes:
    """The layer zip of one recipe folder, built from the package registries."""
    with tempfile.TemporaryDirectory(prefix="lamina-layer-") as tmp:
        root = Path(tmp) / "layer"
        if (recipe / "requirements.txt").is_file():
            _run([sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check",
                  "--only-binary=:all:", "--target", str(root / "python"), "-r", str(recipe / "requirements.txt")],
                 Path(tmp), f"pip could not install {recipe / 'requirements.txt'}")
        elif (recipe / "package-lock.json").is_file():
            npm = shutil.which("npm")
            if npm is None:
                raise LayerBuildError(f"{recipe} needs npm: apt-get install -y npm")
            target = root / "nodejs"
            target.mkdir(parents=True)
            for name in ("package.json", "package-lock.json"):
                shutil.copy(recipe / name, target / name)
            _run([npm, "ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                 target, f"npm could not install {recipe / 'package-lock.json'}")
            for name in ("package.json", "package-lock.json"):
                (target / name).unlink()
        else:
            raise LayerBuildError(f"{recipe} has neither requirements.txt nor package-lock.json")
        return _zip(root)


def _run(cmd: list[str], cwd: Path, failure: str) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise LayerBuildError(f"{failure} (is the registry reachable?): {proc.stderr[-2000:]}")


def _zip(root: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = ((0o100755 if path.stat().st_mode & 0o111 else 0o100644) & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return buf.getvalue()


def install(deps: Deps, recipes: Path = RECIPES, log: Callable[[str], object] = print) -> list[str]:
    """Build every recipe and publish a new version of each layer whose content changed; return the layer
    version ARNs now current."""
    account, wanted = catalog(recipes)
    if account != layers.PUBLIC_LAYER_ACCOUNT:
        raise InvalidParameterValueException(f"layers.json names account {account}, lamina reads public layers "
                                             f"from {layers.PUBLIC_LAYER_ACCOUNT}")
    with deps.sessions() as session:
        exists = security.get_account(session, account) is not None
    if not exists:
        iam.create_account(deps, "public-layers", account)
    built: dict[str, bytes] = {}
    current: list[str] = []
    for layer in wanted:
        if layer.recipe not in built:
            log(f"building layer recipe {layer.recipe}")
            built[layer.recipe] = build(recipes / layer.recipe)
        content = built[layer.recipe]
        sha = zips.digest(content)[1]
        with deps.sessions() as session:
            found = queries.get_layer(session, account, layer.name)
            latest = next((lv for lv in reversed(found.versions) if not lv.deleted), None) if found else None
            if latest is not None and latest.code_sha256 == sha:
                current.append(f"arn:aws:lambda:{deps.settings.region}:{account}:layer:{layer.name}:{latest.version}")
                continue
        rec = layers.publish_layer_version(deps, account, layer.name, LayerVersionInput(
            zip_file=content, description=layer.description, compatible_runtimes=list(layer.runtimes),
            compatible_architectures=["x86_64"], license_info=layer.license))
        log(f"published {rec.layer_version_arn}")
        current.append(rec.layer_version_arn)
    return current

