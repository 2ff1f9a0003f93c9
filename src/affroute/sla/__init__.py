"""SLA clocks in business hours: calendars, deadlines and a ticket's SLA state (pure)."""

from affroute.sla.calendar import BusinessCalendar, business_calendars
from affroute.sla.clock import (
    AGENT_REPLIES,
    PARTNER_REPLY,
    PAUSE_STATUSES,
    STOP_STATUSES,
    SlaState,
    SlaStatus,
    SlaTarget,
    TicketEvent,
    sla_state,
)

__all__ = [
    "AGENT_REPLIES",
    "PARTNER_REPLY",
    "PAUSE_STATUSES",
    "STOP_STATUSES",
    "BusinessCalendar",
    "SlaState",
    "SlaStatus",
    "SlaTarget",
    "TicketEvent",
    "business_calendars",
    "sla_state",
]
