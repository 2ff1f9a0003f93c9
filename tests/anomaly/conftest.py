"""A small generated click/lead/conversion log with injected anomalies, shared by the tests."""

from __future__ import annotations

import numpy as np
import pytest

from affroute.config import AnomalyConfig, load_config
from affroute.synth.events import EventLog, EventLogSpec, generate_event_log
from tests.conftest import EXAMPLE

SMALL = EventLogSpec(events=300_000, partners=36, campaigns=4, days=28, per_kind=2)


@pytest.fixture(scope="session")
def small_log() -> EventLog:
    return generate_event_log(SMALL, np.random.default_rng(11))


@pytest.fixture(scope="session")
def thresholds() -> AnomalyConfig:
    return load_config(EXAMPLE).anomalies
