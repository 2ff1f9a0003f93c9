"""Answers computed from the analytics facts, kept until the facts change.

The facts change only when a refresh rewrites some of their rows (every few seconds while
tickets move, never while nothing happens); between two refreshes the same question (the
overview's cards are polled, several people look at the same page) has the same answer.
Each worker keeps its latest answers with the facts' version they were computed at, and
computes again once the version has moved on.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from affroute.analytics import facts

T = TypeVar("T")


class FactsMemo:
    """The last ``size`` answers, each with the facts' version it was computed at."""

    def __init__(self, size: int = 128) -> None:
        self.size = size
        self._answers: OrderedDict[Hashable, tuple[int, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def asked(self, key: Hashable) -> bool:
        """Whether ``key`` was asked (at any version) and is still among the kept answers."""
        with self._lock:
            return key in self._answers

    def get(self, session: Session, key: Hashable, compute: Callable[[], T]) -> T:
        """The answer to ``key`` at the facts' current version: kept, or computed now."""
        current = facts.version(session)
        if current is None:
            return compute()
        with self._lock:
            kept = self._answers.get(key)
            if kept is not None and kept[0] == current:
                self._answers.move_to_end(key)
                return kept[1]  # type: ignore[no-any-return]
        answer = compute()
        with self._lock:
            self._answers[key] = (current, answer)
            self._answers.move_to_end(key)
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)
        return answer
