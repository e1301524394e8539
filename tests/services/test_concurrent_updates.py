"""RevisionId and numbering under real concurrency: threads against the real PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from lamina.errors import LambdaError, PreconditionFailedException, ResourceConflictException
from lamina.services.functions import aliases, concurrency, functions, versions
from lamina.services.records import CodeInput, ConfigInput, CreateFunctionInput
from support.lambda_api import ROLE, make_zip

ACCOUNT = "000000000000"
N = 8


def _create(components: Any, name: str) -> str:
    rec = functions.create_function(components, ACCOUNT, CreateFunctionInput(
        name=name, code=CodeInput(zip_file=make_zip()),
        config=ConfigInput(role=ROLE, runtime="python3.11", handler="app.handler"),
    ))
    return rec.revision_id


def _race(calls: list[Callable[[], Any]]) -> tuple[list[Any], list[BaseException]]:
    """Start every call at the same moment; return (results, errors)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            out = call()
            with lock:
                results.append(out)
        except LambdaError as err:
            with lock:
                errors.append(err)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results, errors


def test_exactly_one_same_revision_update_wins(components):
    revision = _create(components, "race")
    calls = [
        (lambda i=i: functions.update_configuration(
            components, ACCOUNT, "race", ConfigInput(memory_size=128 + i), revision_id=revision))
        for i in range(N)
    ]
    results, errors = _race(calls)
    assert len(results) == 1
    assert len(errors) == N - 1 and all(isinstance(e, PreconditionFailedException) for e in errors)
    final = functions.get_configuration(components, ACCOUNT, "race")
    assert final.memory_size == results[0].memory_size and final.revision_id == results[0].revision_id


def test_exactly_one_same_revision_code_update_wins(components):
    revision = _create(components, "race-code")
    calls = [
        (lambda i=i: functions.update_code(
            components, ACCOUNT, "race-code", CodeInput(zip_file=make_zip({"app.py": f"# {i}\n"})),
            revision_id=revision))
        for i in range(N)
    ]
    results, errors = _race(calls)
    assert len(results) == 1 and len(errors) == N - 1
    assert all(isinstance(e, PreconditionFailedException) for e in errors)
    final = functions.get_configuration(components, ACCOUNT, "race-code")
    assert final.code_sha256 == results[0].code_sha256
    # Only the winner's blob (and no loser's) is stored.
    stored = [k for k in (r.code_key for r in results) if k and components.code_store.exists(k)]
    assert stored == [final.code_key]


def test_concurrent_publishes_share_one_number(components):
    _create(components, "race-pub")
    results, errors = _race([lambda: versions.publish_version(components, ACCOUNT, "race-pub")] * N)
    assert not errors
    assert {r.version for r in results} == {"1"}


def test_concurrent_creates_of_one_name(components):
    results, errors = _race([lambda i=i: _create(components, "race-create") for i in range(N)])
    assert len(results) == 1
    assert len(errors) == N - 1 and all(isinstance(e, ResourceConflictException) for e in errors)


def test_concurrent_alias_updates_with_one_revision(components):
    _create(components, "race-alias")
    versions.publish_version(components, ACCOUNT, "race-alias")
    alias = aliases.create_alias(components, ACCOUNT, "race-alias", "live", "$LATEST")
    calls = [
        (lambda i=i: aliases.update_alias(components, ACCOUNT, "race-alias", "live", description=f"d{i}",
                                          revision_id=alias.revision_id))
        for i in range(N)
    ]
    results, errors = _race(calls)
    assert len(results) == 1 and all(isinstance(e, PreconditionFailedException) for e in errors)


def test_concurrent_reservations_keep_100_unreserved(components):
    names = [f"res{i}" for i in range(4)]
    for name in names:
        _create(components, name)
    results, errors = _race([lambda n=n: concurrency.put(components, ACCOUNT, n, 400) for n in names])
    assert len(results) == 2 and len(errors) == 2
    total = sum(concurrency.get(components, ACCOUNT, n) or 0 for n in names)
    assert total == 800
