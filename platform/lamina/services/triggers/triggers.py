"""Every trigger of a function in one place (schedules, event source mappings, function URLs), for
GetFunction and the CLI. Triggers are rows that reference their function, so DeleteFunction removes
them with it (foreign keys ``ON DELETE CASCADE``)."""

from __future__ import annotations

from dataclasses import dataclass

from lamina.services import arns, common
from lamina.services.common import Deps
from lamina.services.triggers import event_sources, schedules, urls
from lamina.store import triggers as store


@dataclass(frozen=True)
class Triggers:
    schedules: list[schedules.ScheduleRecord]
    event_source_mappings: list[event_sources.MappingRecord]
    urls: list[urls.UrlRecord]


def for_function(deps: Deps, account_id: str, function_name: str) -> Triggers:
    """The triggers of ``function_name`` (any qualifier); ResourceNotFoundException for an unknown function."""
    name = arns.parse_function_name(function_name, deps.settings.region, account_id).name
    with deps.sessions() as session:
        fn = common.load_function(deps, session, account_id, name)
        return Triggers(
            schedules=[schedules.record(deps, row, fn.name) for row, _ in
                       store.list_schedules(session, account_id, fn.id)],
            event_source_mappings=[event_sources.record(deps, row, fn.name) for row, _ in
                                   store.list_mappings(session, account_id, function_id=fn.id)],
            urls=[urls.record(deps, row, account_id, fn.name) for row in store.list_urls(session, fn.id)],
        )
