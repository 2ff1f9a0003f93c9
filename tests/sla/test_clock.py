"""SLA clocks as a support lead checks them: deadlines, pauses, breaches, reopening."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from affroute.config import Calendar, SlaPolicy
from affroute.sla import BusinessCalendar, SlaState, SlaStatus, SlaTarget, TicketEvent, sla_state

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
HOUR = timedelta(hours=1)


def ny(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=NEW_YORK)


def policy(
    *,
    first: timedelta = HOUR,
    next_response: timedelta | None = None,
    resolution: timedelta = 8 * HOUR,
) -> SlaPolicy:
    return SlaPolicy(
        name="test",
        priorities=frozenset(),
        partner_tiers=frozenset(),
        teams=frozenset(),
        calendar="-",
        first_response=first,
        next_response=next_response,
        resolution=resolution,
    )


def status(at: datetime, old: str, new: str) -> TicketEvent:
    return (at, "status_changed", {"from": old, "to": new})


def event(at: datetime, kind: str, **data: Any) -> TicketEvent:
    return (at, kind, data)


@pytest.fixture
def office(calendars: dict[str, Calendar]) -> BusinessCalendar:
    """New York, Monday to Friday 08:00-18:00, no holidays."""
    return BusinessCalendar(calendars["ny_office"])


def state(
    calendar: BusinessCalendar, events: list[TicketEvent], now: datetime, **targets: Any
) -> SlaState:
    return sla_state(events, policy=policy(**targets), calendar=calendar, now=now)


def test_friday_evening_p1_is_due_monday_morning(office: BusinessCalendar) -> None:
    """Created Friday 17:55: five minutes on Friday, 55 on Monday (after the DST weekend)."""
    created = ny(3, 6, 17, 55)
    result = state(office, [event(created, "created")], now=created)
    assert result.first_response_by == ny(3, 9, 8, 55)
    assert result.first_response_by.tzinfo is UTC
    assert result.status is SlaStatus.FIRST_RESPONSE_DUE
    assert result.time_left == HOUR  # business time: the weekend does not count
    assert not result.breached


def test_a_pending_stretch_moves_the_resolution_deadline_by_its_business_hours(
    office: BusinessCalendar,
) -> None:
    created = ny(3, 2, 9)  # Monday
    events = [
        event(created, "created"),
        status(created, "new", "open"),
        event(ny(3, 2, 9, 30), "first_response"),
        status(ny(3, 2, 10), "open", "pending"),
        status(ny(3, 2, 13), "pending", "open"),
    ]
    unpaused = state(office, events[:3], now=ny(3, 2, 9, 45))
    assert unpaused.resolution_by == ny(3, 2, 17)

    during = state(office, events[:4], now=ny(3, 2, 12))
    assert during.paused and during.status is SlaStatus.PAUSED
    assert during.paused_for == 2 * HOUR
    assert during.resolution_by == ny(3, 3, 9)  # moves out while paused

    after = state(office, events, now=ny(3, 2, 14))
    assert not after.paused and after.status is SlaStatus.RESOLUTION_DUE
    assert after.paused_for == 3 * HOUR
    # 17:00 plus three business hours: one on Monday, two on Tuesday.
    assert after.resolution_by == ny(3, 3, 10)
    assert after.time_left == 6 * HOUR  # 14:00-18:00 and 08:00-10:00
    assert after.resolution_elapsed == 2 * HOUR  # 09:00-10:00 and 13:00-14:00


def test_an_overnight_pause_counts_business_hours_only(office: BusinessCalendar) -> None:
    created = ny(3, 2, 9)
    events = [
        event(created, "created"),
        event(ny(3, 2, 9, 10), "first_response"),
        status(ny(3, 2, 17), "new", "on_hold"),
        status(ny(3, 3, 10), "on_hold", "open"),
    ]
    result = state(office, events, now=ny(3, 3, 11), resolution=10 * HOUR)
    assert result.paused_for == 3 * HOUR  # 17:00-18:00 and 08:00-10:00, not 17 hours
    assert result.resolution_by == ny(3, 3, 12)  # was Tuesday 09:00


def test_the_first_response_clock_runs_while_pending(office: BusinessCalendar) -> None:
    created = ny(3, 2, 9)
    events = [event(created, "created"), status(ny(3, 2, 9, 15), "new", "pending")]
    result = state(office, events, now=ny(3, 2, 11))
    assert result.first_response_by == ny(3, 2, 10)
    assert result.breached == {SlaTarget.FIRST_RESPONSE}
    assert result.status is SlaStatus.BREACHED
    assert result.paused
    assert result.time_left == -HOUR


def test_solved_late_is_breached_and_solved_in_time_fulfilled(office: BusinessCalendar) -> None:
    created = ny(3, 2, 9)
    history = [event(created, "created"), event(ny(3, 2, 9, 20), "first_response")]
    late = state(office, [*history, status(ny(3, 3, 12), "open", "solved")], now=ny(3, 5, 9))
    assert late.status is SlaStatus.BREACHED
    assert late.breached == {SlaTarget.RESOLUTION}
    assert late.resolution_by == ny(3, 2, 17)
    assert late.time_left is None

    in_time = state(office, [*history, status(ny(3, 2, 16), "open", "solved")], now=ny(3, 5, 9))
    assert in_time.status is SlaStatus.FULFILLED
    assert not in_time.breached
    assert in_time.resolution_by == ny(3, 2, 17)
    assert in_time.time_left is None


def test_solved_exactly_at_the_deadline_is_in_time(office: BusinessCalendar) -> None:
    created = ny(3, 2, 9)
    events = [
        event(created, "created"),
        event(ny(3, 2, 10), "first_response"),  # exactly at its deadline too
        status(ny(3, 2, 17), "open", "solved"),
    ]
    assert state(office, events, now=ny(3, 9, 9)).status is SlaStatus.FULFILLED


def test_a_clock_running_past_a_friday_deadline_is_breached_on_saturday(
    office: BusinessCalendar,
) -> None:
    """No business time passes over the weekend, but the deadline instant has gone by."""
    created = ny(3, 6, 10)  # Friday; resolution due at closing time, 18:00
    events = [event(created, "created"), event(ny(3, 6, 10, 5), "first_response")]
    assert state(office, events, now=ny(3, 6, 18)).status is SlaStatus.RESOLUTION_DUE
    saturday = state(office, events, now=ny(3, 7, 10))
    assert saturday.breached == {SlaTarget.RESOLUTION}
    assert saturday.time_left == timedelta(0)


def test_reopening_resumes_where_the_clock_stopped(office: BusinessCalendar) -> None:
    created = ny(3, 2, 9)
    events = [
        event(created, "created"),
        event(ny(3, 2, 9, 30), "first_response"),
        status(ny(3, 2, 13), "open", "solved"),  # four hours used
        status(ny(3, 4, 9), "solved", "open"),  # Wednesday: four hours left
    ]
    while_solved = state(office, events[:3], now=ny(3, 3, 12))
    assert while_solved.status is SlaStatus.FULFILLED
    assert while_solved.resolution_by == ny(3, 2, 17)

    reopened = state(office, events, now=ny(3, 4, 10))
    assert reopened.status is SlaStatus.RESOLUTION_DUE
    assert reopened.resolution_by == ny(3, 4, 13)
    assert reopened.resolution_elapsed == 5 * HOUR

    solved_again = [*events, status(ny(3, 4, 12, 30), "open", "solved")]
    assert state(office, solved_again, now=ny(3, 6, 9)).status is SlaStatus.FULFILLED
    assert state(office, events, now=ny(3, 4, 14)).breached == {SlaTarget.RESOLUTION}


def test_a_24x7_calendar_counts_real_hours_across_the_dst_night(
    calendars: dict[str, Calendar],
) -> None:
    around_the_clock = BusinessCalendar(calendars["24x7"])
    created = ny(3, 7, 23, 30)  # Saturday night; 02:00 becomes 03:00
    result = state(around_the_clock, [event(created, "created")], now=created)
    # Aware arithmetic in Python adds wall-clock time; real time is added in UTC.
    assert result.resolution_by == created.astimezone(UTC) + 8 * HOUR
    assert result.resolution_by.astimezone(NEW_YORK) == ny(3, 8, 8, 30)  # 9 hours on the wall

    london = BusinessCalendar(calendars["london_all_day"])  # open all day, in its own zone
    autumn = datetime(2026, 10, 24, 22, tzinfo=LONDON)  # 02:00 BST becomes 01:00 GMT
    result = state(london, [event(autumn, "created")], now=autumn)
    assert result.resolution_by == autumn.astimezone(UTC) + 8 * HOUR
    assert result.resolution_by.astimezone(LONDON).hour == 5  # 7 hours on the wall


def test_holidays_are_skipped(calendars: dict[str, Calendar]) -> None:
    americas = BusinessCalendar(calendars["americas_hours"])
    created = ny(11, 25, 16)  # the day before Thanksgiving
    result = state(americas, [event(created, "created")], now=created, first=4 * HOUR)
    assert result.first_response_by == ny(11, 27, 10)  # two hours Wednesday, two Friday

    emea = BusinessCalendar(calendars["emea_hours"])  # Good Friday and Easter Monday
    created = datetime(2026, 4, 2, 17, tzinfo=LONDON)
    result = state(emea, [event(created, "created")], now=created, first=2 * HOUR)
    assert result.first_response_by == datetime(2026, 4, 7, 9, 30, tzinfo=LONDON)


def test_next_response_runs_from_the_partner_reply_to_the_agent_reply(
    office: BusinessCalendar,
) -> None:
    targets: dict[str, Any] = {"next_response": 4 * HOUR}
    created = ny(3, 2, 9)
    events = [
        event(created, "created"),
        event(ny(3, 2, 9, 30), "first_response"),
        event(ny(3, 2, 10), "partner_replied"),
    ]
    before_partner = state(office, events[:2], now=ny(3, 2, 9, 45), **targets)
    assert before_partner.next_response_by is None

    waiting = state(office, events, now=ny(3, 2, 11), **targets)
    assert waiting.next_response_by == ny(3, 2, 14)
    assert waiting.time_left == 3 * HOUR  # nearer than the resolution at 17:00

    answered = [*events, event(ny(3, 2, 13), "replied")]
    assert state(office, answered, now=ny(3, 2, 15), **targets).next_response_by is None

    evening = [*answered, event(ny(3, 2, 16), "partner_replied")]
    result = state(office, evening, now=ny(3, 2, 20), **targets)
    assert result.next_response_by == ny(3, 3, 10)  # two hours Monday, two Tuesday

    late = [*events, event(ny(3, 2, 15), "replied")]
    result = state(office, late, now=ny(3, 2, 16), **targets)
    assert result.next_response_by is None
    assert result.breached == {SlaTarget.NEXT_RESPONSE}  # the breach stays on record


def test_without_a_next_response_target_partner_replies_start_no_clock(
    office: BusinessCalendar,
) -> None:
    created = ny(3, 2, 9)
    events = [
        event(created, "created"),
        event(ny(3, 2, 9, 30), "first_response"),
        event(ny(3, 2, 10), "partner_replied"),
    ]
    assert state(office, events, now=ny(3, 2, 16)).next_response_by is None


def test_a_partner_reply_to_a_solved_ticket_starts_the_clock_at_reopening(
    office: BusinessCalendar,
) -> None:
    created = ny(3, 2, 9)
    events = [
        event(created, "created"),
        event(ny(3, 2, 9, 30), "first_response"),
        status(ny(3, 2, 11), "open", "solved"),
        event(ny(3, 2, 12), "partner_replied"),
    ]
    still_solved = state(office, events, now=ny(3, 2, 15), next_response=2 * HOUR)
    assert still_solved.next_response_by is None
    assert still_solved.status is SlaStatus.FULFILLED

    reopened = [*events, status(ny(3, 2, 14), "solved", "open")]
    result = state(office, reopened, now=ny(3, 2, 15), next_response=2 * HOUR)
    assert result.next_response_by == ny(3, 2, 16)


def test_solving_without_a_reply_answers_the_first_response(office: BusinessCalendar) -> None:
    created = ny(3, 2, 9)
    events = [event(created, "created"), status(ny(3, 2, 9, 40), "new", "solved")]
    assert state(office, events, now=ny(3, 3, 9)).status is SlaStatus.FULFILLED


def test_reassignment_and_priority_changes_do_not_move_the_clocks(
    office: BusinessCalendar,
) -> None:
    created = ny(3, 2, 9)
    events = [event(created, "created"), event(ny(3, 2, 9, 30), "first_response")]
    noisy = [
        *events,
        event(ny(3, 2, 10), "reassigned", from_team="a", to_team="b"),
        event(ny(3, 2, 10), "priority_changed", to="p1"),
        event(ny(3, 2, 10), "assigned", agent_id="x"),
    ]
    now = ny(3, 2, 11)
    assert state(office, noisy, now=now) == state(office, events, now=now)


def test_events_after_now_are_not_known_yet(office: BusinessCalendar) -> None:
    created = ny(3, 2, 9)
    events = [event(created, "created"), status(ny(3, 2, 12), "new", "solved")]
    earlier = state(office, events, now=ny(3, 2, 11))
    assert earlier == state(office, events[:1], now=ny(3, 2, 11))
    assert earlier.status is SlaStatus.BREACHED  # no first response by 10:00


def test_the_order_of_the_events_given_does_not_matter(office: BusinessCalendar) -> None:
    created = ny(3, 2, 9)
    events = [
        event(created, "created"),
        event(ny(3, 2, 9, 30), "first_response"),
        status(ny(3, 2, 10), "open", "pending"),
        status(ny(3, 2, 13), "pending", "open"),
    ]
    now = ny(3, 2, 14)
    assert state(office, events[::-1], now=now) == state(office, events, now=now)


def test_bad_histories_are_refused_clearly(office: BusinessCalendar) -> None:
    created = ny(3, 2, 9)
    with pytest.raises(ValueError, match="no 'created' event"):
        state(office, [event(created, "replied")], now=ny(3, 2, 10))
    with pytest.raises(ValueError, match="'reopened'"):
        state(
            office,
            [event(created, "created"), status(created, "new", "reopened")],
            now=ny(3, 2, 10),
        )
    with pytest.raises(ValueError, match="aware"):
        state(office, [event(created, "created")], now=datetime(2026, 3, 2, 10))
    with pytest.raises(ValueError, match="aware"):
        state(office, [(datetime(2026, 3, 2, 9), "created", {})], now=ny(3, 2, 10))


def test_paused_right_at_the_deadline_breaches_once_the_clock_runs_again(
    office: BusinessCalendar,
) -> None:
    created = ny(3, 2, 9)
    events = [
        event(created, "created"),
        event(ny(3, 2, 9, 30), "first_response"),
        status(ny(3, 2, 17), "open", "pending"),  # the whole target used up
    ]
    paused = state(office, events, now=ny(3, 3, 9))
    assert paused.status is SlaStatus.PAUSED
    assert paused.resolution_by == ny(3, 2, 17)
    resumed = [*events, status(ny(3, 3, 10), "pending", "open")]
    assert state(office, resumed, now=ny(3, 3, 10, 30)).breached == {SlaTarget.RESOLUTION}
