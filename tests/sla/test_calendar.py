"""Business calendars: DST days, holidays, 24x7, week skipping and exactness to the microsecond."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from affroute.config import ALWAYS_OPEN, Calendar, RoutingConfig
from affroute.sla import BusinessCalendar, business_calendars

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
HOUR = timedelta(hours=1)
ZONES = [UTC, NEW_YORK, LONDON, ZoneInfo("Asia/Singapore"), ZoneInfo("Pacific/Chatham")]
_built: dict[str, BusinessCalendar] = {}


def built(calendars: dict[str, Calendar], name: str) -> BusinessCalendar:
    """One calendar per name for the whole module, its caches warm, as in the service."""
    if name not in _built:
        _built[name] = BusinessCalendar(calendars[name])
    return _built[name]


def open_time(calendar: BusinessCalendar, day: date) -> timedelta:
    return sum((b - a for a, b in calendar.open_intervals(day)), timedelta())


def test_dst_days_count_the_hours_that_really_pass(calendars: dict[str, Calendar]) -> None:
    london = BusinessCalendar(calendars["london_all_day"])
    assert open_time(london, date(2026, 3, 28)) == 24 * HOUR
    assert open_time(london, date(2026, 3, 29)) == 23 * HOUR
    assert open_time(london, date(2026, 10, 25)) == 25 * HOUR
    assert open_time(london, date(2026, 12, 25)) == timedelta(0)  # a holiday
    nights = BusinessCalendar(calendars["ny_nights"])  # Sundays all day, in New York
    assert open_time(nights, date(2026, 3, 8)) == 23 * HOUR
    assert open_time(nights, date(2026, 11, 1)) == 25 * HOUR
    # Saturday night 22:00 to Sunday 04:00 spans the lost hour: five real hours.
    saturday = datetime(2026, 3, 7, 22, tzinfo=NEW_YORK)
    assert nights.elapsed(saturday, datetime(2026, 3, 8, 4, tzinfo=NEW_YORK)) == 5 * HOUR


def test_a_span_starting_in_the_skipped_hour_opens_when_the_clock_jumps() -> None:
    calendar = BusinessCalendar(
        Calendar("night", "America/New_York", {6: ((time(2, 30), time(5, 0)),)})
    )
    [(start, end)] = calendar.open_intervals(date(2026, 3, 8))  # 02:00 EST becomes 03:00 EDT
    assert start.astimezone(NEW_YORK) == datetime(2026, 3, 8, 3, tzinfo=NEW_YORK)
    assert end - start == 2 * HOUR


def test_a_repeated_hour_is_open_whenever_the_wall_clock_shows_an_open_time() -> None:
    """On 1 November 01:00-02:00 happens twice; 01:00-01:30 is closed both times."""
    calendar = BusinessCalendar(
        Calendar("night", "America/New_York", {6: ((time(1, 30), time(5, 0)),)})
    )
    first, second = calendar.open_intervals(date(2026, 11, 1))
    assert first[0] == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    assert first[1] - first[0] == timedelta(minutes=30)  # until 02:00 EDT = 01:00 EST
    assert second[0] == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST
    assert second[1] == datetime(2026, 11, 1, 10, tzinfo=UTC)  # 05:00 EST
    assert not calendar.is_open(datetime(2026, 11, 1, 6, 10, tzinfo=UTC))  # 01:10 EST


def test_split_shift_closes_for_lunch(calendars: dict[str, Calendar]) -> None:
    emea = BusinessCalendar(calendars["emea_hours"])
    before_lunch = datetime(2026, 6, 3, 12, tzinfo=LONDON)
    assert emea.add(before_lunch, HOUR) == datetime(2026, 6, 3, 14, tzinfo=LONDON)
    assert not emea.is_open(datetime(2026, 6, 3, 12, 30, tzinfo=LONDON))
    assert emea.next_open(datetime(2026, 6, 3, 12, 45, tzinfo=LONDON)) == datetime(
        2026, 6, 3, 13, 30, tzinfo=LONDON
    )


def test_24x7_is_plain_elapsed_time(calendars: dict[str, Calendar]) -> None:
    always = BusinessCalendar(calendars[ALWAYS_OPEN])
    assert always.always_open
    start = datetime(2026, 3, 7, 23, 59, 59, 999_999, tzinfo=NEW_YORK)
    duration = timedelta(days=3, microseconds=7)
    assert always.add(start, duration) == start.astimezone(UTC) + duration
    assert always.elapsed(start, start.astimezone(UTC) + duration) == duration
    assert always.next_open(start) == start
    assert not BusinessCalendar(calendars["london_all_day"]).always_open  # it has a holiday


def test_outputs_are_utc_and_inputs_may_be_in_any_zone(calendars: dict[str, Calendar]) -> None:
    apac = BusinessCalendar(calendars["apac_hours"])
    start = datetime(2026, 5, 5, 17, tzinfo=ZoneInfo("Asia/Singapore"))
    due = apac.add(start, 2 * HOUR)
    assert due.tzinfo is UTC
    assert due == datetime(2026, 5, 6, 10, tzinfo=ZoneInfo("Asia/Singapore"))
    assert apac.add(start.astimezone(NEW_YORK), 2 * HOUR) == due


def test_300_business_hours_skip_whole_weeks(calendars: dict[str, Calendar]) -> None:
    """The date walk after the skip stays within a week plus the holidays met."""
    americas = BusinessCalendar(calendars["americas_hours"])
    start = datetime(2026, 11, 2, 9, tzinfo=NEW_YORK)
    due = americas.add(start, 300 * HOUR)
    info = americas._day.cache_info()
    assert info.hits + info.misses <= 1 + 7 + 1  # the first day, a week, Thanksgiving
    assert americas.elapsed(start, due) == 300 * HOUR
    # 48 h in the first week, 39 in Thanksgiving's, 49 in four others; 17 h left from Monday.
    assert due == datetime(2026, 12, 15, 15, tzinfo=NEW_YORK)


def test_bad_input_is_refused(calendars: dict[str, Calendar]) -> None:
    office = BusinessCalendar(calendars["ny_office"])
    with pytest.raises(ValueError, match="aware"):
        office.add(datetime(2026, 3, 2, 9), HOUR)
    with pytest.raises(ValueError, match="zero or more"):
        office.add(datetime(2026, 3, 2, 9, tzinfo=UTC), -HOUR)
    closed = BusinessCalendar(Calendar("closed", "UTC", {}))
    with pytest.raises(ValueError, match="no business hours"):
        closed.add(datetime(2026, 3, 2, 9, tzinfo=UTC), HOUR)
    assert closed.elapsed(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)) == (
        timedelta(0)
    )


def test_every_configured_calendar_is_built(example_config: RoutingConfig) -> None:
    built = business_calendars(example_config.calendars)
    assert set(built) == {"24x7", "americas_hours", "emea_hours", "apac_hours"}
    assert built["americas_hours"].weekly_open == 49 * HOUR


instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.sampled_from(ZONES)
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=120))


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(["americas_hours", "emea_hours", "apac_hours", "ny_nights"]),
       start=instants, duration=durations)  # fmt: skip
def test_elapsed_undoes_add_to_the_microsecond(
    calendars: dict[str, Calendar], name: str, start: datetime, duration: timedelta
) -> None:
    calendar = built(calendars, name)
    due = calendar.add(start, duration)
    assert due >= start
    assert calendar.elapsed(start, due) == duration
    if duration:
        assert calendar.is_open(due - timedelta(microseconds=1))  # the earliest such instant


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(["americas_hours", "emea_hours", "london_all_day", "ny_nights"]),
       a=instants, b=instants, c=instants)  # fmt: skip
def test_elapsed_adds_up_and_changes_sign(
    calendars: dict[str, Calendar], name: str, a: datetime, b: datetime, c: datetime
) -> None:
    calendar = built(calendars, name)
    assert calendar.elapsed(a, b) + calendar.elapsed(b, c) == calendar.elapsed(a, c)
    assert calendar.elapsed(b, a) == -calendar.elapsed(a, b)
    assert calendar.elapsed(a, calendar.next_open(a)) == timedelta(0)


def test_threads_share_a_calendar_safely(calendars: dict[str, Calendar]) -> None:
    """The lazily grown tables give every thread the answers a lone thread gets."""
    starts = [datetime(1990 + i % 60, 1 + i % 12, 1 + i % 28, tzinfo=LONDON) for i in range(400)]
    alone = BusinessCalendar(calendars["emea_hours"])
    expected = [alone.add(start, 30 * HOUR) for start in starts]
    shared = BusinessCalendar(calendars["emea_hours"])
    with ThreadPoolExecutor(max_workers=4) as pool:
        chunks = [starts[i::4] for i in range(4)]
        results = list(pool.map(lambda chunk: [shared.add(s, 30 * HOUR) for s in chunk], chunks))
    assert [results[i % 4][i // 4] for i in range(400)] == expected


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(["americas_hours", "emea_hours", "apac_hours"]),
    offsets=st.lists(st.integers(0, 400 * 86_400 * 10**6), min_size=1, max_size=40),
    minutes=st.sampled_from([0, 1, 30, 60 * 4, 60 * 10, 60 * 24, 60 * 24 * 9]),
)
def test_add_many_matches_add_to_the_microsecond(
    example_config: RoutingConfig, name: str, offsets: list[int], minutes: int
) -> None:
    calendar = built(example_config.calendars, name)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    starts = [base + timedelta(microseconds=o) for o in offsets]
    # exact interval ends too: a deadline landing on a closing time is the closing time
    starts += [calendar.add(s, timedelta(hours=1)) for s in starts[:5]]
    duration = timedelta(minutes=minutes)
    batch = calendar.add_many(
        np.asarray([(s - epoch) // timedelta(microseconds=1) for s in starts]), duration
    )
    expected = [calendar.add(s, duration) for s in starts]
    assert [epoch + timedelta(microseconds=int(us)) for us in batch] == expected
