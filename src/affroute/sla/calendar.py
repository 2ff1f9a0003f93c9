"""Business-hours calendars: when a desk is open, and business time between two instants.

A calendar is open at an instant exactly when the wall clock in its IANA zone shows a time
inside one of that weekday's spans, on a date that is not a holiday. Business time is the
real time spent open, so a day whose local hours are skipped or repeated by a DST change
counts the hours that really passed (an all-day span lasts 23 or 25 hours on those days).

Internally every instant is an integer number of microseconds since the Unix epoch (UTC),
so all arithmetic is exact. Each local date's open intervals are computed once and kept in
an LRU cache; whole weeks are skipped arithmetically, corrected by the few dates (holidays,
DST changes) whose open time differs from their weekday's.
"""

from __future__ import annotations

import itertools
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from affroute.config.model import Calendar

_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_SECOND = 1_000_000
_HOUR = 3_600 * _SECOND
_DAY = 24 * _HOUR
# Every real zone's offset lies within -12h..+14h, so a local date's instants lie within a
# day either side of the same date read as UTC.
# Offsets are sampled this often to find transitions; real zones never change and change
# back within six hours.
_SAMPLE = 6 * _HOUR

# A local date's open intervals (start, end) in epoch microseconds, and their total length.
_Day = tuple[tuple[tuple[int, int], ...], int]
_CLOSED: _Day = ((), 0)


def _to_us(at: datetime) -> int:
    """An aware datetime as microseconds since the epoch; a naive one is refused."""
    try:
        return (at - _EPOCH) // _US
    except TypeError:
        raise ValueError(f"expected an aware datetime (with a time zone), got {at!r}") from None


def _from_us(us: int) -> datetime:
    return _EPOCH + _US * us


def _wall_us(moment: time, *, end: bool) -> int:
    """A span bound as microseconds after local midnight; ``time.max`` as an end is 24:00."""
    if end and moment == time.max:
        return _DAY
    seconds = moment.hour * 3_600 + moment.minute * 60 + moment.second
    return seconds * _SECOND + moment.microsecond


def _year_of(ordinal: int) -> int:
    return date.fromordinal(ordinal).year


class _Table(NamedTuple):
    """Offsets over ``[lo, hi)``: ``offsets[i]`` holds from ``starts[i]`` to ``starts[i + 1]``."""

    starts: list[int]
    offsets: list[int]
    lo: int
    hi: int
    first_year: int
    last_year: int


class _Offsets:
    """A zone's UTC offset over time as sorted transition instants, found by search per year.

    The table only grows, and is replaced whole under a lock, so readers in other threads
    always see a consistent one without locking.
    """

    __slots__ = ("_lock", "_zone", "table")

    def __init__(self, zone: ZoneInfo) -> None:
        self._zone = zone
        self._lock = threading.Lock()
        self.table = _Table([], [], 0, 0, 0, 0)

    def offset_at(self, at: int) -> int:
        """The zone's UTC offset at an instant, in microseconds."""
        table = self.table
        if not table.lo <= at < table.hi:
            table = self.cover(at)
        return table.offsets[bisect_right(table.starts, at) - 1]

    def segments(self, lo: int, hi: int) -> Iterator[tuple[int, int, int]]:
        """``(start, end, offset)`` pieces of constant offset that overlap ``[lo, hi)``."""
        self.cover(lo)
        starts, offsets, _, end_of_table, _, _ = self.cover(hi)
        index = bisect_right(starts, lo) - 1
        while index < len(starts) and starts[index] < hi:
            end = starts[index + 1] if index + 1 < len(starts) else end_of_table
            yield starts[index], end, offsets[index]
            index += 1

    def transitions(self, lo: int, hi: int) -> list[int]:
        """The instants in ``[lo, hi)`` at which the offset changes."""
        self.cover(lo)
        starts = self.cover(hi).starts
        return starts[bisect_right(starts, lo) : bisect_left(starts, hi)]

    def cover(self, at: int) -> _Table:
        """The table, first extended a whole UTC year at a time until it covers ``at``."""
        table = self.table
        if table.lo <= at < table.hi:
            return table
        with self._lock:
            table = self.table
            year = _year_of(at // _DAY + _EPOCH_ORDINAL)
            starts, offsets = list(table.starts), list(table.offsets)
            first, last = table.first_year, table.last_year
            if not starts:
                first = last = year
                starts, offsets = self._scan(year)
            while year < first:
                first -= 1
                earlier_starts, earlier_offsets = self._scan(first)
                if earlier_offsets[-1] == offsets[0]:  # no change at new year: one piece
                    del starts[0], offsets[0]
                starts[:0], offsets[:0] = earlier_starts, earlier_offsets
            while year > last:
                last += 1
                later_starts, later_offsets = self._scan(last)
                if later_offsets[0] == offsets[-1]:
                    del later_starts[0], later_offsets[0]
                starts += later_starts
                offsets += later_offsets
            hi = _to_us(datetime(last + 1, 1, 1, tzinfo=UTC))
            self.table = _Table(starts, offsets, starts[0], hi, first, last)
            return self.table

    def _offset(self, at: int) -> int:
        utc_offset = _from_us(at).astimezone(self._zone).utcoffset()
        return 0 if utc_offset is None else utc_offset // _US

    def _scan(self, year: int) -> tuple[list[int], list[int]]:
        """Pieces of one UTC year: its start with the offset there, then each transition."""
        begin = _to_us(datetime(year, 1, 1, tzinfo=UTC))
        end = _to_us(datetime(year + 1, 1, 1, tzinfo=UTC))
        starts, offsets = [begin], [self._offset(begin)]
        previous = begin
        for at in [*range(begin + _SAMPLE, end, _SAMPLE), end - 1]:
            if self._offset(at) == offsets[-1]:
                previous = at
                continue
            # Bisect to the second (transitions fall on whole seconds): the first instant
            # of the new offset lies in (low, high].
            low, high = previous // _SECOND, at // _SECOND
            previous = at
            while high - low > 1:
                middle = (low + high) // 2
                if self._offset(middle * _SECOND) == offsets[-1]:
                    low = middle
                else:
                    high = middle
            starts.append(high * _SECOND)
            offsets.append(self._offset(high * _SECOND))
        return starts, offsets


class BusinessCalendar:
    """Business time in a calendar's zone: deadlines, elapsed time and opening hours.

    Every method takes aware datetimes in any zone and returns UTC. Local dates must follow
    each other in time, which holds in every zone whose clocks never go back across midnight.
    """

    __slots__ = (
        "_always_open",
        "_day",
        "_holidays",
        "_irregular",
        "_nominal",
        "_offsets",
        "_partial",
        "_spans",
        "_week",
        "calendar",
        "zone",
    )

    def __init__(self, calendar: Calendar, *, cache_size: int = 4096) -> None:
        self.calendar = calendar
        self.zone = ZoneInfo(calendar.timezone)
        self._spans = tuple(_merged_spans(calendar.hours.get(day, ())) for day in range(7))
        self._holidays = frozenset(day.toordinal() for day in calendar.holidays)
        self._nominal = tuple(sum(b - a for a, b in spans) for spans in self._spans)
        self._week = sum(self._nominal)
        # _partial[w][n]: nominal open time of the n days that start on weekday w.
        self._partial = tuple(
            tuple(sum(self._nominal[(w + i) % 7] for i in range(n)) for n in range(7))
            for w in range(7)
        )
        # Open all day, every day, no holidays: business time is plain elapsed time.
        self._always_open = not self._holidays and all(s == ((0, _DAY),) for s in self._spans)
        self._offsets = _Offsets(self.zone)
        # year -> (ordinals, running sums) of the dates whose open time is not their
        # weekday's nominal time: holidays and DST changes inside a span.
        self._irregular: dict[int, tuple[list[int], list[int]]] = {}
        self._day = lru_cache(maxsize=cache_size)(self._compute_day)

    @property
    def name(self) -> str:
        return self.calendar.name

    @property
    def always_open(self) -> bool:
        """True when business time is plain elapsed time (open 24x7, no holidays)."""
        return self._always_open

    @property
    def weekly_open(self) -> timedelta:
        """Open time in a week without holidays or DST changes."""
        return _US * self._week

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest instant by which ``duration`` of business time has passed from ``start``."""
        need = duration // _US
        if need < 0:
            raise ValueError(f"expected a duration of zero or more, got {duration}")
        at = _to_us(start)
        if self._always_open or need == 0:
            return _from_us(at + need)
        self._check_opens()
        ordinal = self._local_ordinal(at)
        for low, high in self._day(ordinal)[0]:
            if high > at:
                begin = low if low > at else at
                if need <= high - begin:
                    return _from_us(begin + need)
                need -= high - begin
        ordinal += 1
        if need > self._week:
            # Skip whole weeks, keeping at least one instant of need for the walk below. Only
            # a DST change that lengthens a span can make the weeks hold more than planned.
            weeks = (need - 1) // self._week
            skipped = self._range_total(ordinal, ordinal + 7 * weeks)
            while skipped >= need:
                weeks -= 1
                skipped = self._range_total(ordinal, ordinal + 7 * weeks)
            ordinal += 7 * weeks
            need -= skipped
        while True:
            intervals, total = self._day(ordinal)
            if need <= total:
                for low, high in intervals:
                    if need <= high - low:
                        return _from_us(low + need)
                    need -= high - low
            need -= total
            ordinal += 1

    def add_many(self, starts: NDArray[np.int64], duration: timedelta) -> NDArray[np.int64]:
        """``add`` for many starts at once; instants are microseconds since the epoch (UTC).

        The open intervals from the earliest start's date on are laid end to end once, so
        each deadline is two binary searches in their running open time (the simulator
        computes millions of deadlines; the walk in ``add`` would dominate its run).
        """
        need = duration // _US
        if need < 0:
            raise ValueError(f"expected a duration of zero or more, got {duration}")
        starts = np.asarray(starts, dtype=np.int64)
        if self._always_open or need == 0 or starts.size == 0:
            return starts + need
        self._check_opens()
        latest = int(starts.max())
        intervals: list[tuple[int, int]] = []
        ordinal = self._local_ordinal(int(starts.min()))
        last = self._local_ordinal(latest)
        after_latest = 0  # open time after the latest start: enough once it reaches need
        while ordinal <= last or after_latest < need:
            for low, high in self._day(ordinal)[0]:
                intervals.append((low, high))
                if high > latest:
                    after_latest += high - max(low, latest)
            ordinal += 1
        bounds = np.asarray(intervals, dtype=np.int64).reshape(-1, 2)
        lows, highs = bounds[:, 0], bounds[:, 1]
        open_before = np.concatenate(([0], np.cumsum(highs - lows)))
        first = np.searchsorted(highs, starts, side="right")  # the first interval ending later
        target = open_before[first] + np.maximum(0, starts - lows[first]) + need
        reached = np.searchsorted(open_before[1:], target, side="left")
        result: NDArray[np.int64] = lows[reached] + (target - open_before[reached])
        return result

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time from ``start`` to ``end`` (negative when ``end`` comes first)."""
        low, high = _to_us(start), _to_us(end)
        if self._always_open:
            return _US * (high - low)
        if high < low:
            return -self.elapsed(end, start)
        first, last = self._local_ordinal(low), self._local_ordinal(high)
        total = self._range_total(first, last) - self._open_before(first, low)
        return _US * (total + self._open_before(last, high))

    def is_open(self, at: datetime) -> bool:
        """True if the desk is open at ``at``."""
        if self._always_open:
            return True
        moment = _to_us(at)
        intervals = self._day(self._local_ordinal(moment))[0]
        return any(low <= moment < high for low, high in intervals)

    def next_open(self, at: datetime) -> datetime:
        """The first open instant at or after ``at``."""
        moment = _to_us(at)
        if self._always_open:
            return _from_us(moment)
        self._check_opens()
        ordinal = self._local_ordinal(moment)
        while True:
            for low, high in self._day(ordinal)[0]:
                if high > moment:
                    return _from_us(max(low, moment))
            ordinal += 1

    def open_intervals(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The open intervals of a local date, in UTC."""
        return tuple((_from_us(a), _from_us(b)) for a, b in self._day(day.toordinal())[0])

    def _check_opens(self) -> None:
        if not self._week:
            raise ValueError(f"calendar {self.name!r} has no business hours")

    def _local_ordinal(self, at: int) -> int:
        """The local date of an instant, as a proleptic ordinal."""
        return (at + self._offsets.offset_at(at)) // _DAY + _EPOCH_ORDINAL

    def _open_before(self, ordinal: int, at: int) -> int:
        """Open time of a local date before the instant ``at``."""
        total = 0
        for low, high in self._day(ordinal)[0]:
            if low >= at:
                break
            total += (high if high < at else at) - low
        return total

    def _compute_day(self, ordinal: int) -> _Day:
        """The open intervals of a local date: instants whose wall clock reads an open time."""
        spans = self._spans[(ordinal + 6) % 7]
        if not spans or ordinal in self._holidays:
            return _CLOSED
        midnight = (ordinal - _EPOCH_ORDINAL) * _DAY  # local midnight, as if it were UTC
        pieces: list[tuple[int, int]] = []
        # Within a piece of constant offset the wall clock is the instant plus the offset,
        # so each span maps to one interval; a DST change splits it between two pieces.
        for begin, end, offset in self._offsets.segments(midnight - _DAY, midnight + 2 * _DAY):
            for a, b in spans:
                low = max(begin, midnight + a - offset)
                high = min(end, midnight + b - offset)
                if low < high:
                    if pieces and pieces[-1][1] == low:  # touching: one interval
                        low = pieces.pop()[0]
                    pieces.append((low, high))
        return tuple(pieces), sum(b - a for a, b in pieces)

    def _range_total(self, first: int, last: int) -> int:
        """Open time of the local dates ``first`` up to, not including, ``last``."""
        if last <= first:
            return 0
        weeks, days = divmod(last - first, 7)
        total = weeks * self._week + self._partial[(first + 6) % 7][days]
        for year in range(_year_of(first), _year_of(last - 1) + 1):
            ordinals, sums = self._irregular_dates(year)
            total += sums[bisect_left(ordinals, last)] - sums[bisect_left(ordinals, first)]
        return total

    def _irregular_dates(self, year: int) -> tuple[list[int], list[int]]:
        """A year's dates whose open time differs from their weekday's, with running sums."""
        found = self._irregular.get(year)
        if found is not None:
            return found
        first, last = date(year, 1, 1).toordinal(), date(year + 1, 1, 1).toordinal()
        candidates = {o for o in self._holidays if first <= o < last}
        margin = 3 * _DAY
        begin = (first - _EPOCH_ORDINAL) * _DAY - margin
        for change in self._offsets.transitions(begin, (last - _EPOCH_ORDINAL) * _DAY + margin):
            near = change // _DAY + _EPOCH_ORDINAL
            candidates.update(o for o in range(near - 2, near + 3) if first <= o < last)
        ordinals, deltas = [], []
        for ordinal in sorted(candidates):
            delta = self._compute_day(ordinal)[1] - self._nominal[(ordinal + 6) % 7]
            if delta:
                ordinals.append(ordinal)
                deltas.append(delta)
        found = ordinals, [0, *itertools.accumulate(deltas)]
        self._irregular[year] = found
        return found

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.name!r}, {self.calendar.timezone!r})"


def _merged_spans(spans: tuple[tuple[time, time], ...]) -> tuple[tuple[int, int], ...]:
    """A weekday's spans in microseconds after midnight, sorted, overlaps and touches merged."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        a, b = _wall_us(start, end=False), _wall_us(end, end=True)
        if a >= b:
            continue
        if merged and a <= merged[-1][1]:
            a, previous_end = merged.pop()
            b = max(b, previous_end)
        merged.append((a, b))
    return tuple(merged)


def business_calendars(calendars: Mapping[str, Calendar]) -> dict[str, BusinessCalendar]:
    """A ``BusinessCalendar`` for each configured calendar, by name."""
    return {name: BusinessCalendar(calendar) for name, calendar in calendars.items()}
