"""The deadline calculator against the minute-by-minute reference, on thousands of random cases.

Every input is a whole minute in UTC, so the reference, which judges each real minute by
the wall clock at its start, is exact (all span bounds and DST changes fall on whole
minutes). The cases are seeded and mix plain days, weekend creation, holidays, split-shift
and closing-time edges, the DST nights of March, October and November 2026 and long
targets that skip whole weeks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from affroute.config import Calendar, SlaPolicy
from affroute.sla import BusinessCalendar, SlaTarget, TicketEvent, sla_state
from tests.sla import reference
from tests.sla.reference import MINUTE, MinuteTable

CASES_PER_CALENDAR = 2_000  # x 6 calendars: 12,000 deadlines and 12,000 elapsed times
CLOCK_CASES_PER_CALENDAR = 200
TABLE_FIRST = datetime(2025, 12, 1, tzinfo=UTC)
TABLE_LAST = datetime(2027, 4, 1, tzinfo=UTC)
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
YEAR_MINUTES = 365 * 24 * 60
DST_CHANGES = (  # US: 8 March, 1 November; EU: 29 March, 25 October 2026
    datetime(2026, 3, 8, 7, tzinfo=UTC),
    datetime(2026, 3, 29, 1, tzinfo=UTC),
    datetime(2026, 10, 25, 1, tzinfo=UTC),
    datetime(2026, 11, 1, 6, tzinfo=UTC),
)
CALENDARS = ("americas_hours", "emea_hours", "apac_hours", "24x7", "ny_nights", "london_all_day")

_tables: dict[str, MinuteTable] = {}


def table_for(calendar: Calendar) -> MinuteTable:
    if calendar.name not in _tables:
        _tables[calendar.name] = MinuteTable(calendar, TABLE_FIRST, TABLE_LAST)
    return _tables[calendar.name]


def random_starts(rng: np.random.Generator, calendar: Calendar, count: int) -> list[datetime]:
    """Whole-minute instants in 2026, many of them where calendars go wrong."""
    zone = ZoneInfo(calendar.timezone)
    spans = [bound for spans in calendar.hours.values() for span in spans for bound in span]
    holidays = sorted(calendar.holidays) or [date(2026, 12, 25)]

    def uniform() -> datetime:
        return YEAR_START + int(rng.integers(YEAR_MINUTES)) * MINUTE

    def near_dst() -> datetime:
        change = DST_CHANGES[int(rng.integers(len(DST_CHANGES)))]
        return change + int(rng.integers(-48 * 60, 48 * 60)) * MINUTE

    def local(day: date, minute: int) -> datetime:
        midnight = datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(UTC)
        return midnight + minute * MINUTE

    def weekend() -> datetime:
        saturday = date(2026, 1, 3) + timedelta(weeks=int(rng.integers(52)))
        return local(saturday + timedelta(days=int(rng.integers(2))), int(rng.integers(1440)))

    def near_holiday() -> datetime:
        day = holidays[int(rng.integers(len(holidays)))] + timedelta(days=int(rng.integers(-1, 2)))
        return local(day, int(rng.integers(1440)))

    def at_an_edge() -> datetime:
        # An opening or closing time (or a minute either side), e.g. the lunch break.
        day = date(2026, 1, 1) + timedelta(days=int(rng.integers(365)))
        bound = spans[int(rng.integers(len(spans)))]
        minute = 1440 if bound.hour == 23 and bound.minute == 59 else bound.hour * 60 + bound.minute
        return local(day, minute + int(rng.integers(-1, 2)))

    kinds: list[Callable[[], datetime]] = [uniform, near_dst, weekend, near_holiday, at_an_edge]
    picks = rng.choice(len(kinds), size=count, p=[0.35, 0.25, 0.15, 0.1, 0.15])
    return [kinds[pick]() for pick in picks]


def random_minutes(rng: np.random.Generator, count: int) -> list[int]:
    """Business minutes: some zero, many short, some up to 300 hours."""
    bands = [(0, 1), (1, 121), (121, 1_201), (1_201, 6_001), (6_001, 18_001)]
    picks = rng.choice(len(bands), size=count, p=[0.03, 0.27, 0.3, 0.25, 0.15])
    return [int(rng.integers(*bands[pick])) for pick in picks]


@pytest.mark.parametrize("name", CALENDARS)
def test_deadlines_and_elapsed_match_the_minute_reference(
    name: str, calendars: dict[str, Calendar]
) -> None:
    calendar = calendars[name]
    table = table_for(calendar)
    business = BusinessCalendar(calendar)
    rng = np.random.default_rng(sum(map(ord, name)))
    starts = random_starts(rng, calendar, CASES_PER_CALENDAR)
    durations = random_minutes(rng, CASES_PER_CALENDAR)
    spans = rng.integers(-20 * 1440, 60 * 1440, size=CASES_PER_CALENDAR)
    mismatches = []
    for start, minutes, span in zip(starts, durations, spans, strict=True):
        expected = table.add(start, minutes)
        got = business.add(start, timedelta(minutes=minutes))
        if got != expected:
            mismatches.append(f"add({start}, {minutes}m): {got} != {expected}")
        end = start + int(span) * MINUTE
        want = table.elapsed(start, end) if end >= start else -table.elapsed(end, start)
        if business.elapsed(start, end) != timedelta(minutes=want):
            mismatches.append(f"elapsed({start}, {end}): {business.elapsed(start, end)} != {want}m")
        if business.next_open(start) != table.next_open(start):
            mismatches.append(f"next_open({start}): {business.next_open(start)}")
        if business.is_open(start) != bool(table.open[table.index(start)]):
            mismatches.append(f"is_open({start})")
    assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[:5]}"


@pytest.mark.parametrize("name", CALENDARS)
def test_the_table_is_the_minute_walk(name: str, calendars: dict[str, Calendar]) -> None:
    """The table only stores the reference's walk: the two agree on a sample."""
    calendar = calendars[name]
    table = table_for(calendar)
    rng = np.random.default_rng(7)
    starts = random_starts(rng, calendar, 40)
    for start, drawn in zip(starts, random_minutes(rng, 40), strict=True):
        minutes = min(drawn, 2_000)  # the walk is slow
        assert table.add(start, minutes) == reference.add(calendar, start, minutes)
        end = start + int(rng.integers(3 * 1440)) * MINUTE
        assert table.elapsed(start, end) == reference.elapsed(calendar, start, end)


@pytest.mark.parametrize("name", CALENDARS)
def test_resolution_with_pauses_matches_the_minute_reference(
    name: str, calendars: dict[str, Calendar]
) -> None:
    """Pending and on-hold stretches move the resolution deadline by their open minutes."""
    calendar = calendars[name]
    table = table_for(calendar)
    business = BusinessCalendar(calendar)
    rng = np.random.default_rng(1_000 + sum(map(ord, name)))
    starts = random_starts(rng, calendar, CLOCK_CASES_PER_CALENDAR)
    mismatches = []
    for created in starts:
        target = int(rng.integers(1, 6_000))
        policy = SlaPolicy(
            name="oracle",
            priorities=frozenset(),
            partner_tiers=frozenset(),
            teams=frozenset(),
            calendar=name,
            first_response=timedelta(hours=1),
            next_response=None,
            resolution=timedelta(minutes=target),
        )
        events: list[TicketEvent] = [(created, "created", {})]
        running = np.array(table.open, copy=True)  # open minutes the clock counts
        at = created
        for _ in range(int(rng.integers(1, 4))):
            begin = at + int(rng.integers(0, 5 * 1440)) * MINUTE
            at = begin + int(rng.integers(0, 4 * 1440)) * MINUTE
            pause = str(rng.choice(["pending", "on_hold"]))
            events.append((begin, "status_changed", {"from": "open", "to": pause}))
            events.append((at, "status_changed", {"from": pause, "to": "open"}))
            running[table.index(begin) : table.index(at)] = False
        now = at + int(rng.integers(1, 30 * 1440)) * MINUTE
        counts = np.concatenate(([0], np.cumsum(running)))
        first = table.index(created)
        due = table.at(int(np.searchsorted(counts, counts[first] + target, side="left")))
        paused = table.elapsed(created, at) - int(counts[table.index(at)] - counts[first])
        state = sla_state(events, policy=policy, calendar=business, now=now)
        got = (state.resolution_by, state.paused_for, SlaTarget.RESOLUTION in state.breached)
        expected = (due, timedelta(minutes=paused), due < now)
        if got != expected:
            mismatches.append(f"{events} now {now}: {got} != {expected}")
    assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[:3]}"
