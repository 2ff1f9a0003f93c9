"""A slow, obviously correct business-hours reference that looks at one real minute at a time.

It reads the calendar's own definition and nothing of ``affroute.sla``: a minute is open when
the wall clock in the calendar's zone, at the minute's start, shows a time inside one of that
weekday's spans, on a date that is not a holiday. It is exact for inputs on whole minutes
(UTC), because every span bound and every DST change of the zones tested falls on one.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from affroute.config import Calendar

MINUTE = timedelta(minutes=1)


def is_open(calendar: Calendar, at: datetime) -> bool:
    """Is the wall clock at ``at`` inside an open span of a working date?"""
    local = at.astimezone(ZoneInfo(calendar.timezone))
    if local.date() in calendar.holidays:
        return False
    wall = local.time()
    return any(
        start <= wall and (end == time.max or wall < end)  # time.max is 24:00
        for start, end in calendar.hours.get(local.weekday(), ())
    )


def add(calendar: Calendar, start: datetime, minutes: int) -> datetime:
    """Walk real minutes from ``start``, counting the open ones, until ``minutes`` are counted."""
    # Step in UTC: adding a minute to a local datetime would step the wall clock instead.
    at, left = start.astimezone(UTC), minutes
    while left:
        left -= is_open(calendar, at)
        at += MINUTE
    return at


def elapsed(calendar: Calendar, start: datetime, end: datetime) -> int:
    """Open minutes from ``start`` up to ``end``."""
    at, end, count = start.astimezone(UTC), end.astimezone(UTC), 0
    while at < end:
        count += is_open(calendar, at)
        at += MINUTE
    return count


class MinuteTable:
    """``is_open`` for every minute of a stretch, and the running count of open minutes.

    The same walk done once, so that thousands of cases can be read off it: elapsed is a
    difference of counts and a deadline the first minute boundary the count reaches.
    """

    def __init__(self, calendar: Calendar, first: datetime, last: datetime) -> None:
        self.calendar = calendar
        self.first = first.astimezone(UTC)
        size = (last - first) // MINUTE
        self.open = np.array(
            [is_open(calendar, self.first + i * MINUTE) for i in range(size)], dtype=bool
        )
        # counts[i]: open minutes before minute i.
        self.counts: npt.NDArray[np.int64] = np.concatenate(([0], np.cumsum(self.open)))

    def index(self, at: datetime) -> int:
        offset = at - self.first
        if offset % MINUTE or not 0 <= offset // MINUTE <= len(self.open):
            raise ValueError(f"{at} is not a whole minute inside the table")
        return offset // MINUTE

    def at(self, index: int) -> datetime:
        if not 0 <= index <= len(self.open):
            raise ValueError("the answer lies outside the table; make it longer")
        return self.first + index * MINUTE

    def add(self, start: datetime, minutes: int) -> datetime:
        begin = self.index(start)
        if minutes == 0:
            return self.at(begin)
        target = self.counts[begin] + minutes
        return self.at(int(np.searchsorted(self.counts, target, side="left")))

    def elapsed(self, start: datetime, end: datetime) -> int:
        return int(self.counts[self.index(end)] - self.counts[self.index(start)])

    def next_open(self, at: datetime) -> datetime:
        return self.add(at, 1) - MINUTE
