"""Settings of the execution engine: read from LAMINA_* once, bad values name their variable."""

from __future__ import annotations

import os

import pytest
from lamina.config import MEMORY_OVERCOMMIT, ConfigError, Settings


def test_execution_capacity_defaults() -> None:
    s = Settings.from_env({})
    assert (s.sandboxes, s.memory_budget_mb, s.max_environments) == (4, None, 1000)
    host_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    assert abs(s.effective_memory_budget_mb - MEMORY_OVERCOMMIT * host_mb) <= MEMORY_OVERCOMMIT


def test_execution_capacity_from_the_environment() -> None:
    s = Settings.from_env({"LAMINA_SANDBOXES": "0", "LAMINA_MEMORY_BUDGET_MB": "2048",
                           "LAMINA_MAX_ENVIRONMENTS": "50"})
    assert (s.sandboxes, s.effective_memory_budget_mb, s.max_environments) == (0, 2048, 50)


@pytest.mark.parametrize("name, value", [
    ("LAMINA_SANDBOXES", "-1"), ("LAMINA_SANDBOXES", "many"), ("LAMINA_MEMORY_BUDGET_MB", "1.5"),
    ("LAMINA_MAX_ENVIRONMENTS", "0"), ("LAMINA_MAX_ENVIRONMENTS", "5000"),
    ("LAMINA_ASYNC_RESCUE_AFTER", "soon"), ("LAMINA_LOG_LEVEL", "loud"),
])
def test_bad_values_name_their_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_log_level_and_rescue_delay_from_the_environment() -> None:
    s = Settings.from_env({"LAMINA_LOG_LEVEL": "warning", "LAMINA_ASYNC_RESCUE_AFTER": "2.5"})
    assert (s.log_level, s.async_rescue_after_s) == ("WARNING", 2.5)
    assert (Settings.from_env({}).log_level, Settings.from_env({}).async_rescue_after_s) == ("INFO", 10.0)


def test_fleet_settings_refuse_bad_values_by_name() -> None:
    import pytest
    from lamina.config import ConfigError, Settings

    for name, value in (("LAMINA_PLACEMENT", "everywhere"), ("LAMINA_CODE_STORE", "s3"),
                        ("LAMINA_NODE_ID", "bad id/with slash"), ("LAMINA_CONTROL_CIDR", "10.0.0.300/32"),
                        ("LAMINA_FLEET_CIDR", "nonsense"), ("LAMINA_NODE_PORT", "0"),
                        ("LAMINA_REDIS_MIN_REPLICAS", "-1")):
        with pytest.raises(ConfigError, match=name):
            Settings.from_env({name: value})
