"""Volumes (lamina's own API): /lamina/v1/volumes[/<name>] — list (size, files, functions using each),
delete. A volume is created by the first function whose FileSystemConfigs names it."""

from __future__ import annotations

from typing import Any

from flask.typing import ResponseReturnValue

from lamina.api import context
from lamina.services.volumes import volumes
from lamina.services.volumes.volumes import Volume

bp = context.blueprint("volumes")
BASE = "/lamina/v1/volumes"


@bp.get(BASE)
def list_volumes() -> ResponseReturnValue:
    return {"Volumes": [volume_shape(v) for v in volumes.list_volumes(context.deps(), context.account_id())]}


@bp.delete(BASE + "/<name>")
def delete_volume(name: str) -> ResponseReturnValue:
    volumes.delete(context.deps(), context.account_id(), name)
    return "", 204


def volume_shape(v: Volume) -> dict[str, Any]:
    return {"Name": v.name, "AccessPointArn": v.arn, "SizeBytes": v.size_bytes, "Files": v.files,
            "UsedBy": v.used_by}
