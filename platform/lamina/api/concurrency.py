"""PutFunctionConcurrency, GetFunctionConcurrency, DeleteFunctionConcurrency (note the mixed path dates)."""

from __future__ import annotations

from flask.typing import ResponseReturnValue

from lamina.api import context, shapes
from lamina.services.functions import concurrency

bp = context.blueprint("concurrency")


@bp.put("/2017-10-31/functions/<function_name>/concurrency")
def put_function_concurrency(function_name: str) -> ResponseReturnValue:
    reserved = shapes.Reader(context.body()).integer("ReservedConcurrentExecutions", required=True)
    assert reserved is not None
    return shapes.concurrency(concurrency.put(context.deps(), context.account_id(), function_name, reserved))


@bp.get("/2019-09-30/functions/<function_name>/concurrency")
def get_function_concurrency(function_name: str) -> ResponseReturnValue:
    return shapes.concurrency(concurrency.get(context.deps(), context.account_id(), function_name))


@bp.delete("/2017-10-31/functions/<function_name>/concurrency")
def delete_function_concurrency(function_name: str) -> ResponseReturnValue:
    concurrency.delete(context.deps(), context.account_id(), function_name)
    return "", 204
