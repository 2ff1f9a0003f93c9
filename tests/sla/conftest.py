"""Calendars for the SLA tests: the example's desks, 24x7, an office and two over DST nights."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from affroute.config import Calendar, parse_config
from tests.conftest import EXAMPLE, minimal_data

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

EXTRA_CALENDARS: list[dict[str, Any]] = [
    {
        "name": "ny_office",
        "timezone": "America/New_York",
        "hours": {day: ["08:00-18:00"] for day in _WEEKDAYS[:5]},
    },
    # Spans over the DST night, where a day's local hours are skipped or repeated.
    {
        "name": "ny_nights",
        "timezone": "America/New_York",
        "hours": {
            **{day: ["00:00-02:30", "22:00-24:00"] for day in _WEEKDAYS[:6]},
            "sun": ["00:00-24:00"],
        },
        "holidays": ["2026-07-04", "2026-11-02"],
    },
    {
        "name": "london_all_day",
        "timezone": "Europe/London",
        "hours": {day: ["00:00-24:00"] for day in _WEEKDAYS},
        "holidays": ["2026-12-25"],
    },
]


@pytest.fixture(scope="session")
def calendars() -> dict[str, Calendar]:
    """The example's calendars, 24x7 and the extra ones, as the config loader builds them."""
    example = yaml.safe_load(EXAMPLE.read_text())["calendars"]
    return dict(parse_config(minimal_data(calendars=example + EXTRA_CALENDARS)).calendars)
