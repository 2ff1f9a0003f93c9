"""Seeded synthetic affiliate programs (partners, deals, campaigns, anomalies, labelled tickets)."""

from affroute.synth.files import write_program
from affroute.synth.generator import (
    TEAMS,
    AffiliateProgram,
    GeneratorSpec,
    LabelledTicket,
    expert_urgency,
    generate_program,
    top_engaged_partner_ids,
    true_priority_for,
    true_team_for,
)

__all__ = [
    "TEAMS",
    "AffiliateProgram",
    "GeneratorSpec",
    "LabelledTicket",
    "expert_urgency",
    "generate_program",
    "top_engaged_partner_ids",
    "true_priority_for",
    "true_team_for",
    "write_program",
]
