"""SLA targets from the configuration: a zero or negative target is refused at load time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from affroute.config import ConfigError, parse_config
from tests.conftest import minimal_data

TARGETS = ("first_response", "next_response", "resolution")


def messages_for(field: str, value: Any) -> list[str]:
    policy = {"name": "gold partners", "first_response": "1h", "resolution": "1d", field: value}
    with pytest.raises(ConfigError) as info:
        parse_config(minimal_data(sla={"policies": [policy]}), source="cfg.yaml")
    return [str(issue) for issue in info.value.issues]


@pytest.mark.parametrize("field", TARGETS)
@pytest.mark.parametrize("value", [0, "0h", "0m", "0d", -5, -0.5])
def test_a_zero_or_negative_target_names_the_policy_and_field(field: str, value: Any) -> None:
    [message] = messages_for(field, value)
    assert message == f"sla.policies[0] 'gold partners'.{field}: a duration must be positive"


@pytest.mark.parametrize("field", TARGETS)
def test_a_negative_duration_string_is_refused_as_malformed(field: str) -> None:
    [message] = messages_for(field, "-1h")
    assert message.startswith(f"sla.policies[0] 'gold partners'.{field}: expected a duration")
    assert "'-1h'" in message


@pytest.mark.parametrize("value", [timedelta(0), timedelta(hours=-1)])
def test_a_zero_or_negative_timedelta_is_refused_too(value: timedelta) -> None:
    [message] = messages_for("resolution", value)
    assert "'gold partners'.resolution: a duration must be positive" in message
