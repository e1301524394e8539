"""Function code on the host: zips extracted once into directories that containers mount read-only.

``LAMINA_DATA_DIR/tasks/<code key>/`` holds a function's code (``/var/task``) and
``LAMINA_DATA_DIR/opt/<hash of layer keys>/`` its layers merged in order (``/opt``). Both are built in a
temporary directory and renamed into place, so a crash or a concurrent cold start never sees half a tree.
Files keep the executable bits of the zip (a ``bootstrap`` must stay executable) and everything is made
readable by the sandbox user (uid 993), whatever the zip said.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Callable, Sequence, Set
from pathlib import Path

SANDBOX_UID, SANDBOX_GID = 993, 990

BlobPath = Callable[[str], Path]


class CodeError(RuntimeError):
    """A code or layer archive is missing or cannot be extracted."""


def _extract(archive: Path, target: Path) -> None:
    """Extract ``archive`` over ``target`` (later archives overwrite earlier files), keeping exec bits."""
    try:
        zf = zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile) as err:
        raise CodeError(f"cannot open code archive {archive.name}: {err}") from err
    with zf:
        for info in zf.infolist():
            # ZipFile.extract drops absolute paths and '..' components (no zip-slip).
            path = Path(zf.extract(info, target))
            mode = (info.external_attr >> 16) & 0o777
            if info.is_dir():
                path.chmod(0o755)
            elif stat.S_ISLNK(info.external_attr >> 16):
                # zipfile writes a symlink entry as a small file holding the link target: make it a
                # link again when the target stays inside the tree, else leave the small file.
                link = path.read_text(errors="replace")
                inside = (path.parent / link).resolve().is_relative_to(target.resolve())
                if not os.path.isabs(link) and inside:
                    path.unlink()
                    path.symlink_to(link)
                else:
                    path.chmod(0o644)
            else:
                path.chmod((mode | 0o444 | (0o111 if mode & 0o111 else 0)) & 0o755 if mode else 0o644)
    for root, dirs, _files in os.walk(target):
        for d in dirs:
            (Path(root) / d).chmod(0o755)


def _build_once(final: Path, build: Callable[[Path], None]) -> Path:
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name[:16]}-", dir=final.parent))
    try:
        build(tmp)
        tmp.chmod(0o755)
        try:
            os.rename(tmp, final)
        except OSError:
            # Someone else renamed the same content into place first: theirs is as good as ours.
            if not final.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def task_dir(data_dir: Path, blob_path: BlobPath, code_key: str) -> Path:
    """Return the directory holding the extracted function zip ``code_key`` (extracting it once)."""

    def build(tmp: Path) -> None:
        archive = blob_path(code_key)
        if not archive.exists():
            raise CodeError(f"code archive {code_key} is missing from the code store")
        _extract(archive, tmp)

    return _build_once(data_dir / "tasks" / code_key, build)


def opt_digest(layer_keys: Sequence[str]) -> str:
    """The name of the directory holding ``layer_keys`` merged in order."""
    return hashlib.sha256("\n".join(layer_keys).encode()).hexdigest()[:32]


def opt_dir(data_dir: Path, blob_path: BlobPath, layer_keys: Sequence[str]) -> Path | None:
    """Return the directory of ``layer_keys`` merged in order (later layers win), or None without layers."""
    if not layer_keys:
        return None
    digest = opt_digest(layer_keys)

    def build(tmp: Path) -> None:
        for key in layer_keys:
            archive = blob_path(key)
            if not archive.exists():
                raise CodeError(f"layer archive {key} is missing from the code store")
            _extract(archive, tmp)

    return _build_once(data_dir / "opt" / digest, build)


def link_tree(source: Path, target: Path) -> int:
    """Hard-link every file of ``source`` into the existing directory ``target`` (symlinks copied as
    links); return how many entries. Both live under the data directory, so no byte is copied: a stem
    cell gets a function's code in about a millisecond per thousand files."""
    count = 0
    for root, dirs, files in os.walk(source):
        rel = Path(root).relative_to(source)
        dest = target / rel
        for name in dirs:
            path = Path(root) / name
            if path.is_symlink():
                os.symlink(os.readlink(path), dest / name)
            else:
                (dest / name).mkdir(exist_ok=True)
                shutil.copymode(path, dest / name)
            count += 1
        for name in files:
            path = Path(root) / name
            if path.is_symlink():
                os.symlink(os.readlink(path), dest / name)
            else:
                os.link(path, dest / name)
            count += 1
    return count


def log_dir(data_dir: Path, account_id: str, function_name: str) -> Path:
    """Return the host directory of a function's log streams. Only the platform writes there: no container
    mounts it (the agent hands its lines over with each answer)."""
    path = data_dir / "logs" / account_id / function_name
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o750)
    return path


def remove_unused(
    data_dir: Path, keep_tasks: Set[str], keep_opts: Set[str], mounted: Set[str], older_than: float
) -> list[str]:
    """Delete the directories under ``tasks/`` and ``opt/`` that are not kept and not ``mounted``.

    ``keep_tasks``/``keep_opts`` name the code keys and layer digests function versions use; ``mounted``
    holds host paths containers bind; a directory modified after ``older_than`` (epoch seconds) is kept
    too, since a cold start may be about to mount it. Returns the paths removed, relative to ``data_dir``.
    """
    removed: list[str] = []
    for sub, keep in (("tasks", keep_tasks), ("opt", keep_opts)):
        root = data_dir / sub
        if not root.is_dir():
            continue
        for path in sorted(root.iterdir()):
            if path.name in keep or not path.is_dir() or {str(path), str(path.resolve())} & mounted:
                continue
            try:
                if path.stat().st_mtime > older_than:
                    continue
                # Rename first: from then on no cold start can pick the half-deleted tree up.
                trash = root / f".trash-{path.name}-{os.getpid()}"
                os.rename(path, trash)
            except OSError:
                continue
            shutil.rmtree(trash, ignore_errors=True)
            removed.append(f"{sub}/{path.name}")
    return removed
