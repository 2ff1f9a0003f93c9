"""What a ticket's event log says became of it: when it was first answered and solved,
whether a person moved it to another team, whether it was reopened."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from affroute.domain import TicketStatus
from affroute.store.models import OPEN_STATUSES

DONE = frozenset((TicketStatus.SOLVED.value, TicketStatus.CLOSED.value))
OPEN = frozenset(s.value for s in OPEN_STATUSES)
# The event kinds a History reads (others change nothing).
KINDS = ("status_changed", "reassigned", "first_response")


@dataclass(slots=True)
class History:
    solved_at: datetime | None = None  # the first solve (or close)
    first_response_at: datetime | None = None
    misrouted: bool = False  # moved to another team by a person
    reopened: bool = False

    def add(self, kind: str, data: dict[str, Any], at: datetime) -> None:
        """Take one event, in log order."""
        if kind == "first_response":
            self.first_response_at = self.first_response_at or at
        elif kind == "reassigned":
            self.misrouted = self.misrouted or bool(data.get("misroute"))
        elif kind == "status_changed":
            if data.get("to") in DONE:
                self.solved_at = self.solved_at or at
            elif data.get("from") in DONE and data.get("to") in OPEN:
                self.reopened = True
