"""A ticket's SLA clocks, computed from its event history, its policy and a given ``now``.

Three targets, each counted in the policy calendar's business time:

- first response: from creation to the agent's first public reply. Pending and on-hold do
  not pause it: the partner has not heard from anyone yet, whatever the status says.
- next response (when the policy has one): from the partner's first reply after the last
  agent reply to the next agent reply. Not paused either, for the same reason.
- resolution: business time spent in new or open. Pending and on-hold pause it, so its
  deadline moves out by the paused business time; solved and closed stop it, and reopening
  resumes it with the business time it had left.

Solving or closing a ticket also answers whatever response was still awaited: that
response is on time if the ticket was solved by its deadline. A partner reply to a solved
ticket starts the next-response clock when the ticket is reopened.

A target is met if its clock stops at or before the deadline; it is breached as soon as the
clock runs past it, and a breach stays on record after a reopen or a later reply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from affroute.config.model import SlaPolicy
from affroute.domain import TicketStatus
from affroute.sla.calendar import BusinessCalendar

# What the service stores per event: when, what kind, and its details.
TicketEvent = tuple[datetime, str, Mapping[str, Any]]

PAUSE_STATUSES = frozenset({TicketStatus.PENDING, TicketStatus.ON_HOLD})
STOP_STATUSES = frozenset({TicketStatus.SOLVED, TicketStatus.CLOSED})
AGENT_REPLIES = frozenset({"first_response", "replied"})
PARTNER_REPLY = "partner_replied"

_ZERO = timedelta(0)


class SlaStatus(StrEnum):
    """The agreement as a whole; breached outranks fulfilled, then first response, paused."""

    FIRST_RESPONSE_DUE = "first_response_due"
    RESOLUTION_DUE = "resolution_due"
    PAUSED = "paused"
    BREACHED = "breached"
    FULFILLED = "fulfilled"


class SlaTarget(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"


@dataclass(frozen=True, slots=True)
class SlaState:
    """A ticket's SLA clocks at ``now``; instants are UTC, durations business time.

    ``resolution_by`` is the deadline if the clock runs from now on: while paused it moves
    out with every paused business minute, once solved it stays where it stood, and once
    the clock has run its whole target it is the instant it did. ``time_left`` is the
    business time to the nearest deadline still running (negative when overdue), None once
    the clocks stopped.
    """

    first_response_by: datetime
    next_response_by: datetime | None
    resolution_by: datetime
    paused: bool
    paused_for: timedelta
    status: SlaStatus
    breached: frozenset[SlaTarget]
    time_left: timedelta | None
    resolution_elapsed: timedelta  # business time the resolution clock has run


@dataclass(slots=True)
class _Clocks:
    """The running tally while the events are replayed in order."""

    calendar: BusinessCalendar
    policy: SlaPolicy
    first_response_by: datetime
    since: datetime  # when the current status began
    resolution_left: timedelta
    status: TicketStatus = TicketStatus.NEW
    resolution_reached_at: datetime | None = None  # when it had run its whole target
    resolution_breached: bool = False
    paused_for: timedelta = _ZERO
    first_response_at: datetime | None = None
    next_response_by: datetime | None = None  # set while a partner awaits the next reply
    next_response_breached: bool = False
    partner_waiting_while_stopped: bool = False

    @property
    def stopped(self) -> bool:
        return self.status in STOP_STATUSES

    def run_until(self, end: datetime) -> None:
        """Count the current status from ``since`` to ``end``."""
        if self.status in STOP_STATUSES:
            return
        spent = self.calendar.elapsed(self.since, end)
        if self.status in PAUSE_STATUSES:
            self.paused_for += spent
            return
        if self.resolution_reached_at is None:
            due = self.calendar.add(self.since, self.resolution_left)
            if due <= end:
                self.resolution_reached_at = due
        # Instants, not business time, decide a breach: a clock still running on Saturday is
        # past a Friday 17:00 deadline although no business time passed since.
        reached = self.resolution_reached_at
        self.resolution_breached |= reached is not None and reached < end
        self.resolution_left -= spent

    def change_status(self, at: datetime, to: TicketStatus) -> None:
        self.run_until(at)
        was_stopped = self.stopped
        self.status, self.since = to, at
        if self.stopped and not was_stopped:
            self.answer(at)
        elif was_stopped and not self.stopped and self.partner_waiting_while_stopped:
            self.partner_waiting_while_stopped = False
            self.await_reply(at)

    def answer(self, at: datetime) -> None:
        """An agent reply, or a solve: it meets whichever response was awaited."""
        if self.first_response_at is None:
            self.first_response_at = at
        elif self.next_response_by is not None:
            self.next_response_breached |= at > self.next_response_by
            self.next_response_by = None
        self.partner_waiting_while_stopped = False

    def partner_replied(self, at: datetime) -> None:
        # Before the first response the first-response clock covers the wait; a cycle
        # already open keeps its start.
        if self.first_response_at is None or self.next_response_by is not None:
            return
        if self.stopped:
            self.partner_waiting_while_stopped = True
        else:
            self.await_reply(at)

    def await_reply(self, at: datetime) -> None:
        if self.policy.next_response is not None:
            self.next_response_by = self.calendar.add(at, self.policy.next_response)


def sla_state(
    events: Iterable[TicketEvent],
    *,
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    now: datetime,
) -> SlaState:
    """The SLA clocks of a ticket with these events, as they stand at ``now``.

    Events after ``now`` are not known yet and are left out, so a replay can ask about any
    moment. The policy is the one that applies to the ticket now: a priority change or a
    reassignment does not move the clocks by itself, the caller passes the new policy and
    its targets count from creation. Event kinds not listed in the module are ignored.
    """
    if now.tzinfo is None:
        raise ValueError(f"expected an aware 'now', got {now!r}")
    history = sorted((e for e in events if _aware(e[0]) <= now), key=lambda e: e[0])
    created = next((at for at, kind, _ in history if kind == "created"), None)
    if created is None:
        raise ValueError("the events have no 'created' event at or before now")
    clocks = _Clocks(
        calendar=calendar,
        policy=policy,
        first_response_by=calendar.add(created, policy.first_response),
        since=created,
        resolution_left=policy.resolution,
    )
    for at, kind, data in history:
        if at < created:
            continue
        if kind == "status_changed":
            clocks.change_status(at, _status(data))
        elif kind in AGENT_REPLIES:
            clocks.answer(at)
        elif kind == PARTNER_REPLY:
            clocks.partner_replied(at)
    clocks.run_until(now)
    return _state(clocks, now)


def _state(clocks: _Clocks, now: datetime) -> SlaState:
    calendar, policy = clocks.calendar, clocks.policy
    breached: set[SlaTarget] = set()
    running: list[datetime] = []

    first_by = clocks.first_response_by
    answered = clocks.first_response_at
    if (answered or now) > first_by:
        breached.add(SlaTarget.FIRST_RESPONSE)
    if answered is None:
        running.append(first_by)

    next_by = clocks.next_response_by
    if clocks.next_response_breached or (next_by is not None and now > next_by):
        breached.add(SlaTarget.NEXT_RESPONSE)
    if next_by is not None:
        running.append(next_by)

    left = clocks.resolution_left
    if clocks.resolution_breached:
        breached.add(SlaTarget.RESOLUTION)
    if clocks.resolution_reached_at is not None:
        resolution_by = clocks.resolution_reached_at
    elif clocks.stopped:
        resolution_by = calendar.add(clocks.since, left)  # as it stood when stopped
    else:
        resolution_by = calendar.add(now, left)  # running, or paused: moves out with now
    if not clocks.stopped:
        running.append(resolution_by)

    paused = clocks.status in PAUSE_STATUSES
    if breached:
        status = SlaStatus.BREACHED
    elif clocks.stopped:
        status = SlaStatus.FULFILLED
    elif answered is None:
        status = SlaStatus.FIRST_RESPONSE_DUE
    elif paused:
        status = SlaStatus.PAUSED
    else:
        status = SlaStatus.RESOLUTION_DUE
    time_left = min((calendar.elapsed(now, due) for due in running), default=None)
    return SlaState(
        first_response_by=first_by,
        next_response_by=next_by,
        resolution_by=resolution_by,
        paused=paused,
        paused_for=clocks.paused_for,
        status=status,
        breached=frozenset(breached),
        time_left=time_left,
        resolution_elapsed=policy.resolution - left,
    )


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"expected aware event times, got {at!r}")
    return at


def _status(data: Mapping[str, Any]) -> TicketStatus:
    to = data.get("to")
    try:
        return TicketStatus(str(to))
    except ValueError:
        known = ", ".join(s.value for s in TicketStatus)
        raise ValueError(f"status_changed to {to!r}: expected one of {known}") from None
