"""The multi-factor priority score: each factor normalised to 0..1, weighted, summed to 0-100."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from affroute.config import FACTORS, Normalisation, Scale, ScoringConfig, Tier
from affroute.domain import Anomaly, Priority, Urgency
from affroute.engine.facts import Facts


@dataclass(frozen=True, slots=True)
class FactorScore:
    """One factor's part of the score: its raw input, 0..1 value, weight and points."""

    name: str
    raw: float | str | None
    normalised: float
    weight: float
    points: float


@dataclass(frozen=True, slots=True)
class ScoreBreakdown:
    """The score and what it is made of; per-factor objects are built only when read."""

    score: float
    values: tuple[float, ...]  # each factor's 0..1 value, in FACTORS order
    raws: tuple[float | str | None, ...]
    weights: tuple[float, ...]
    urgency: Urgency
    urgency_detected: bool

    @property
    def factors(self) -> tuple[FactorScore, ...]:
        return tuple(
            FactorScore(name, raw, value, weight, 100.0 * weight * value)
            for name, raw, value, weight in zip(
                FACTORS, self.raws, self.values, self.weights, strict=True
            )
        )


def normalise(value: float | None, norm: Normalisation) -> float:
    """Scale a raw amount to 0..1 between floor and cap, on a log or linear scale.

    Missing or at-floor amounts give 0, amounts at or over the cap give 1.
    """
    if value is None or value <= norm.floor:
        return 0.0
    if value >= norm.cap:
        return 1.0
    if norm.scale is Scale.LOG:
        return math.log(value / norm.floor) / math.log(norm.cap / norm.floor)
    return (value - norm.floor) / (norm.cap - norm.floor)


class Scorer:
    """Scores enriched tickets under one scoring configuration."""

    def __init__(self, scoring: ScoringConfig) -> None:
        self.scoring = scoring
        self._weights = tuple(scoring.weights[name] for name in FACTORS)
        # One alternation per urgency level, most urgent first; word boundaries so that
        # "asap" does not fire inside another word.
        self._keywords = tuple(
            (urgency, words, re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b"))
            for urgency, words in scoring.urgency_keywords.items()
        )

    def urgency(self, facts: Facts) -> tuple[Urgency, bool]:
        """The declared urgency, else the most urgent level whose keywords the text has."""
        if facts.ticket_urgency is not None:
            return facts.ticket_urgency, False
        text = facts.ticket_text
        for urgency, words, pattern in self._keywords:
            # The substring test is cheap and rules out most texts; the regex checks words.
            if any(word in text for word in words) and pattern.search(text):
                return urgency, True
        return self.scoring.urgency_default, False

    def score(self, facts: Facts) -> ScoreBreakdown:
        """Weighted sum of the five factors, 0..100, with each factor's share kept."""
        scoring = self.scoring
        urgency, detected = self.urgency(facts)
        if scoring.lead_volume.scale is Scale.PERCENTILE:
            lead_volume = facts.lead_volume_percentile
        else:
            lead_volume = normalise(facts.partner_lead_volume, scoring.lead_volume)
        values = (
            normalise(facts.deal_value, scoring.deal_value),
            facts.engagement_percentile,
            lead_volume,
            scoring.urgency_levels[urgency],
            1.0 if facts.has_open_anomaly else 0.0,
        )
        raws: tuple[float | str | None, ...] = (
            facts.deal_value,
            facts.engagement_score,
            facts.partner_lead_volume,
            urgency.value,
            describe_anomalies(facts.anomalies) if facts.anomalies else None,
        )
        w = self._weights
        total = 100.0 * (
            w[0] * values[0]
            + w[1] * values[1]
            + w[2] * values[2]
            + w[3] * values[3]
            + w[4] * values[4]
        )
        score = min(100.0, max(0.0, total))
        return ScoreBreakdown(score, values, raws, w, urgency, detected)


def describe_anomalies(anomalies: tuple[Anomaly, ...]) -> str:
    """Which anomalies raised the score, as the trace shows them: ``AN-1 click_spike on P1``."""
    return "; ".join(
        f"{a.id} {a.kind} on "
        + " and ".join(
            part for part in (a.partner_id and f"partner {a.partner_id}",
                              a.campaign_id and f"campaign {a.campaign_id}") if part
        )
        for a in anomalies
    )  # fmt: skip


def priority_for(score: float, tiers: tuple[Tier, ...]) -> Priority:
    """The priority of the first tier (highest first) whose min_score the score reaches."""
    for tier in tiers:
        if score >= tier.min_score:
            return tier.priority
    return tiers[-1].priority
