"""The event core: a heap of ``(time, order, seq, kind, target)`` with a sequence number, so
events at the same time and order run in the order they were scheduled (deterministic)."""

from __future__ import annotations

import heapq

Event = tuple[float, int, int, int, int]


class EventQueue:
    """Future events in time order; ``order`` breaks ties at equal times (lower first)."""

    __slots__ = ("_heap", "_seq", "now")

    def __init__(self) -> None:
        self._heap: list[Event] = []
        self._seq = 0
        self.now = 0.0

    def schedule(self, at: float, kind: int, target: int, order: int = 0) -> None:
        """Add an event; scheduling into the past is a bug in the model, not a feature."""
        if at < self.now:
            raise ValueError(f"event at {at} is before the current time {self.now}")
        self._seq += 1
        heapq.heappush(self._heap, (at, order, self._seq, kind, target))

    def pop(self) -> Event:
        """The next event; the clock moves to its time."""
        event = heapq.heappop(self._heap)
        self.now = event[0]
        return event

    def peek_time(self) -> float:
        return self._heap[0][0] if self._heap else float("inf")

    def __len__(self) -> int:
        return len(self._heap)

    @property
    def heap(self) -> list[Event]:
        """The raw heap, for hot loops that inline push/pop (keep the tuple layout)."""
        return self._heap

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq
