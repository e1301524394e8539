"""Volumes: the EFS analogue. A function's FileSystemConfigs entry names an access point
``arn:aws:elasticfilesystem:REGION:ACCOUNT:access-point/NAME``; NAME is a volume of that account, a
directory under ``<data dir>/volumes/<account>/NAME`` created on first use and owned by the sandbox
user (uid 993, as Lambda's access points map a POSIX user). Every environment of every function of the
account that names it mounts the same files read-write at its LocalMountPath; a volume outlives its
functions and is removed only by ``delete`` (refused while a function or version still names it).

On several hosts the volumes directory must be the same files everywhere: mount one NFS export (or
any shared POSIX file system) at ``<data dir>/volumes`` on every Docker host (docs/operations.md).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from lamina.config import Settings
from lamina.errors import InvalidParameterValueException, ResourceConflictException, ResourceNotFoundException
from lamina.services.common import Deps
from lamina.services.functions.validate import ACCESS_POINT_RE
from lamina.store import queries

SANDBOX_UID, SANDBOX_GID = 993, 990


@dataclass(frozen=True)
class Volume:
    name: str
    arn: str
    size_bytes: int
    files: int
    used_by: list[str]


def access_point_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:elasticfilesystem:{region}:{account_id}:access-point/{name}"


def volume_dir(settings: Settings, account_id: str, name: str) -> Path:
    return Path(settings.data_dir) / "volumes" / account_id / name


def _parse(settings: Settings, account_id: str, arn: str) -> str:
    m = ACCESS_POINT_RE.fullmatch(arn)
    if m is None or m["region"] != settings.region or m["account"] != account_id:
        raise InvalidParameterValueException(
            f"FileSystemConfigs: {arn} is not an access point of this account and region "
            f"(arn:aws:elasticfilesystem:{settings.region}:{account_id}:access-point/NAME)"
        )
    return m["name"]


def ensure(settings: Settings, account_id: str, name: str) -> Path:
    """The volume's directory, created (owned by the sandbox user) if this is its first use."""
    path = volume_dir(settings, account_id, name)
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(path, SANDBOX_UID, SANDBOX_GID)
        path.chmod(0o770)
    return path


def check_configs(deps: Deps, account_id: str, configs: list[dict[str, str]] | None) -> None:
    """Each access point must be of the function's account and region; its volume is created now."""
    for item in configs or ():
        ensure(deps.settings, account_id, _parse(deps.settings, account_id, item["Arn"]))


def mounts_of(settings: Settings, account_id: str, configs: list[dict[str, str]] | None) -> list[dict[str, str]]:
    """What an environment mounts: [{"dir": host directory, "path": LocalMountPath}]."""
    out = []
    for item in configs or ():
        name = _parse(settings, account_id, item["Arn"])
        out.append({"dir": str(ensure(settings, account_id, name)), "path": item["LocalMountPath"]})
    return out


def _users(deps: Deps, account_id: str) -> dict[str, list[str]]:
    """Volume name -> the functions (and versions) that name it."""
    users: dict[str, list[str]] = {}
    with deps.sessions() as session:
        rows = queries.file_system_users(session, account_id)
    for fn_name, version, configs in rows:
        for item in configs or ():
            m = ACCESS_POINT_RE.fullmatch(str(item.get("Arn", "")))
            if m is not None:
                users.setdefault(m["name"], []).append(f"{fn_name}:{version}")
    return users


def _usage(path: Path) -> tuple[int, int]:
    size = files = 0
    for root, _dirs, names in os.walk(path):
        for n in names:
            try:
                size += (Path(root) / n).lstat().st_size
                files += 1
            except OSError:
                continue
    return size, files


def list_volumes(deps: Deps, account_id: str) -> list[Volume]:
    base = Path(deps.settings.data_dir) / "volumes" / account_id
    users = _users(deps, account_id)
    names = sorted({p.name for p in base.iterdir() if p.is_dir()} if base.is_dir() else set())
    out = []
    for name in names:
        size, files = _usage(base / name)
        out.append(Volume(name, access_point_arn(deps.settings.region, account_id, name), size, files,
                          sorted(users.get(name, []))))
    return out


def delete(deps: Deps, account_id: str, name: str) -> None:
    path = volume_dir(deps.settings, account_id, name)
    if ACCESS_POINT_RE.fullmatch(access_point_arn("r", "000000000000", name)) is None or not path.is_dir():
        raise ResourceNotFoundException(f"Volume not found: {name}")
    users = _users(deps, account_id).get(name)
    if users:
        raise ResourceConflictException(f"Volume {name} is mounted by {', '.join(sorted(users))}; remove its "
                                        "FileSystemConfigs first.")
    shutil.rmtree(path)
