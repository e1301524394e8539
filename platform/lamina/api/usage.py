"""Usage and chargeback: ``GET /lamina/v1/usage?Start=&End=&FunctionName=&Granularity=&AccountId=&Format=``.

JSON by default; CSV with ``Format=csv`` or ``Accept: text/csv``.
"""

from __future__ import annotations

from flask import Response, jsonify, request
from flask.typing import ResponseReturnValue

from lamina.api import auth, context
from lamina.errors import InvalidParameterValueException
from lamina.services.usage import meter, usage

bp = context.blueprint("usage")


@bp.get("/lamina/v1/usage")
def get_usage() -> ResponseReturnValue:
    fmt = (request.args.get("Format") or "").lower()
    if fmt not in ("", "json", "csv"):
        raise InvalidParameterValueException("Format must be json or csv")
    doc = usage.report(context.deps(), auth.current_principal(), request.args.to_dict())
    wants_csv = fmt == "csv" or (not fmt and request.accept_mimetypes.best == "text/csv")
    if wants_csv:
        return Response(meter.to_csv(doc["Usage"]), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="lamina-usage-{doc["Start"]}'
                                                        f'-{doc["End"]}.csv"'})
    return jsonify(doc)
