"""What-if simulation: a discrete-event core that drives the real Router, AgentPool and SLA
clocks, built-in baseline policies, and a pure-queueing mode checked against theory."""

from affroute.sim.kernel import EventQueue
from affroute.sim.queueing import (
    Check,
    QueueRun,
    check_cobham,
    check_erlang_c,
    cobham_waits,
    erlang_c_wait,
    simulate_mm1_priority,
    simulate_mmc,
)

__all__ = [
    "Check",
    "EventQueue",
    "QueueRun",
    "check_cobham",
    "check_erlang_c",
    "cobham_waits",
    "erlang_c_wait",
    "simulate_mm1_priority",
    "simulate_mmc",
]
