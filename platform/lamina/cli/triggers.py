"""``lamina triggers FUNCTION``: every trigger kind's items for one function."""

from __future__ import annotations

from lamina.cli import event_sources, schedules, urls
from lamina.cli.kinds import make_triggers_command

TRIGGER_KINDS = (schedules.KIND, event_sources.KIND, urls.KIND)
triggers = make_triggers_command(TRIGGER_KINDS)
