"""The closed loop: from ticket outcomes, propose factor weights and routing rules.

Two kinds of proposal, each with its evidence and expected effect on mean CSAT:

- **weights**: a regression of CSAT on how long each ticket waited, times each factor's
  0..1 value (with team, category and the factors themselves as controls), with the
  per-hour costs held at zero or above. A ticket whose satisfaction drops fastest while it
  waits should be served first, so the new weights are those costs, scaled to sum to 1.
  The expected effect replays each team's queue with the new order: within a stretch of
  tickets that waited together, the same start times go to the tickets in the new
  priority order, and each ticket's CSAT moves by its fitted cost of the change in wait.
- **rules**: segments (combinations of category, promotion type, engagement band, region,
  partner tier, urgency) where a team's partners are much happier than those of the teams
  the other tickets of the segment went to. A rule that sends the segment to the better
  team is proposed at the place in the rule list where it moves exactly those tickets
  (tickets stopped by an earlier rule stay where they are). A proposal needs
  ``min_responses`` answers on each side, and a difference whose confidence interval,
  widened for the number of segments compared (Bonferroni), stays above zero and whose
  estimate reaches ``min_difference``.

Nothing is applied here: the result holds the new configuration text and its diff.
"""

from __future__ import annotations

import difflib
import heapq
import io
import itertools
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import NDArray
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from scipy.optimize import lsq_linear

from affroute.config import FACTORS, RoutingConfig, Tier, parse_config_text
from affroute.domain import PRIORITY_RANK, PromotionType
from affroute.engine import priority_for
from affroute.feedback.outcomes import BAND_EDGES, EngagementBand, TicketOutcome


class Dimension(StrEnum):
    """A ticket field a proposed rule may segment on."""

    CATEGORY = "category"
    PROMOTION_TYPE = "promotion_type"
    ENGAGEMENT_BAND = "engagement_band"
    REGION = "region"
    PARTNER_TIER = "partner_tier"
    URGENCY = "urgency"


@dataclass(frozen=True, slots=True)
class TuneSettings:
    """How much evidence a proposal needs and how widely segments are searched."""

    min_responses: int = 30  # CSAT answers on each side of a comparison
    min_difference: float = 0.3  # CSAT points
    confidence: float = 0.95
    dimensions: tuple[Dimension, ...] = tuple(Dimension)
    max_dimensions: int = 3  # fields combined in one segment
    required: tuple[Dimension, ...] = (Dimension.CATEGORY,)  # in every segment
    max_rules: int = 12
    min_matched_share: float = 0.75  # of the moved answers with comparable evidence
    max_wait_hours: float = 24.0  # longer waits leave CSAT at the floor: not fitted
    bootstrap: int = 200  # resamples for the weights' intervals (0: none)
    random_state: int = 0

    def __post_init__(self) -> None:
        if self.min_responses < 2:
            raise ValueError("min_responses must be at least 2")
        if not 0.5 <= self.confidence < 1:
            raise ValueError("confidence must be in [0.5, 1)")
        if not 1 <= self.max_dimensions <= len(self.dimensions):
            raise ValueError("max_dimensions must be between 1 and the number of dimensions")
        if not set(self.required) <= set(self.dimensions):
            raise ValueError("every required dimension must be one of the dimensions")


@dataclass(frozen=True, slots=True)
class Arm:
    """The answered tickets of a segment that one team handled."""

    team: str
    responses: int
    mean_csat: float


@dataclass(frozen=True, slots=True)
class Interval:
    estimate: float
    low: float
    high: float
    confidence: float


@dataclass(frozen=True, slots=True)
class RuleProposal:
    """Send a segment to a team: the rule, where it goes, and the evidence behind it."""

    name: str
    segment: tuple[tuple[Dimension, str], ...]
    team: str
    before_rule: str | None  # the rule it is inserted before (None: after the last)
    better: Arm  # the segment's tickets that this team handled
    moved: tuple[Arm, ...]  # the tickets the rule would move, by the team they had
    moved_tickets: int  # answered or not
    difference: Interval  # better minus moved, in CSAT points
    expected_gain: float  # change of the mean CSAT over all answers
    conditions: tuple[dict[str, Any], ...]

    @property
    def moved_responses(self) -> int:
        return sum(arm.responses for arm in self.moved)

    @property
    def moved_mean_csat(self) -> float:
        return sum(a.responses * a.mean_csat for a in self.moved) / max(1, self.moved_responses)

    def describe(self) -> str:
        where = ", ".join(f"{dim.value} {value}" for dim, value in self.segment)
        return (
            f"tickets with {where}: CSAT {self.moved_mean_csat:.2f} with"
            f" {', '.join(a.team for a in self.moved)} (n={self.moved_responses}) vs"
            f" {self.better.mean_csat:.2f} with {self.team} (n={self.better.responses}):"
            f" route them to {self.team}"
        )


@dataclass(frozen=True, slots=True)
class WeightProposal:
    """New factor weights fitted from how waiting hurt CSAT, and their uncertainty."""

    current: dict[str, float]
    proposed: dict[str, float]
    intervals: dict[str, tuple[float, float]]  # bootstrap, of the proposed weights
    cost_per_hour: dict[str, float]  # CSAT lost per hour of waiting at factor value 1
    base_cost_per_hour: float  # lost by every ticket, whatever its factors
    responses: int
    expected_gain: float


@dataclass(frozen=True, slots=True)
class TuneResult:
    """Proposals, the mean CSAT now and predicted under them, and the new config text."""

    tickets: int
    responses: int
    mean_csat: float
    predicted_mean_csat: float
    weights: WeightProposal | None
    rules: tuple[RuleProposal, ...]
    segments_compared: int
    config_text: str
    diff: str
    notes: tuple[str, ...] = field(default=())

    @property
    def changed(self) -> bool:
        return bool(self.diff)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form: the figures, each proposal with its evidence, and the diff."""
        weights = None
        if self.weights is not None:
            w = self.weights
            weights = {
                "current": w.current,
                "proposed": w.proposed,
                "intervals": {k: list(v) for k, v in w.intervals.items()},
                "cost_per_hour": w.cost_per_hour,
                "base_cost_per_hour": w.base_cost_per_hour,
                "responses": w.responses,
                "expected_gain": w.expected_gain,
            }
        return {
            "tickets": self.tickets,
            "responses": self.responses,
            "mean_csat": self.mean_csat,
            "predicted_mean_csat": self.predicted_mean_csat,
            "segments_compared": self.segments_compared,
            "weights": weights,
            "rules": [
                {
                    "name": r.name,
                    "segment": {dim.value: value for dim, value in r.segment},
                    "team": r.team,
                    "before_rule": r.before_rule,
                    "better": {
                        "team": r.better.team,
                        "responses": r.better.responses,
                        "mean_csat": r.better.mean_csat,
                    },
                    "moved": [
                        {"team": a.team, "responses": a.responses, "mean_csat": a.mean_csat}
                        for a in r.moved
                    ],
                    "moved_tickets": r.moved_tickets,
                    "difference": {
                        "estimate": r.difference.estimate,
                        "low": r.difference.low,
                        "high": r.difference.high,
                        "confidence": r.difference.confidence,
                    },
                    "expected_gain": r.expected_gain,
                    "conditions": list(r.conditions),
                }
                for r in self.rules
            ],
            "notes": list(self.notes),
            "diff": self.diff,
        }

    def report(self) -> str:
        """The proposals and their evidence, as a person reads them."""
        lines = [
            f"{self.tickets} tickets, {self.responses} CSAT answers, mean CSAT"
            f" {self.mean_csat:.2f}; predicted with the proposals {self.predicted_mean_csat:.2f}"
        ]
        if self.weights is not None:
            w = self.weights
            lines.append(
                f"Factor weights (from {w.responses} answers; expected effect"
                f" {w.expected_gain:+.3f} CSAT):"
            )
            for name in FACTORS:
                low, high = w.intervals.get(name, (math.nan, math.nan))
                lines.append(
                    f"  {name:<20} {w.current[name]:.2f} -> {w.proposed[name]:.2f}"
                    f"  (interval {low:.2f}..{high:.2f}; waiting costs"
                    f" {w.cost_per_hour[name]:.3f} CSAT/hour at value 1)"
                )
        for index, rule in enumerate(self.rules, start=1):
            d = rule.difference
            lines.append(f"Rule {index}: {rule.describe()}")
            lines.append(
                f"  difference {d.estimate:+.2f} CSAT ({d.confidence:.0%} interval"
                f" {d.low:+.2f}..{d.high:+.2f}); moves {rule.moved_tickets} tickets;"
                f" expected effect {rule.expected_gain:+.3f} CSAT overall; inserted "
                + (f"before {rule.before_rule!r}" if rule.before_rule else "after the last rule")
            )
            for arm in rule.moved:
                lines.append(f"    now {arm.team}: n={arm.responses}, CSAT {arm.mean_csat:.2f}")
        if self.weights is None and not self.rules:
            lines.append("No change proposed.")
        lines.extend(self.notes)
        lines.append(f"({self.segments_compared} segment comparisons examined)")
        return "\n".join(lines)


def tune(
    outcomes: Sequence[TicketOutcome],
    config_text: str,
    *,
    settings: TuneSettings | None = None,
    source: str = "config.yaml",
) -> TuneResult:
    """Propose weights and rules from outcomes; return them with the new config and its diff."""
    settings = settings or TuneSettings()
    config = parse_config_text(config_text, source=source)
    data = _Outcomes.of(outcomes, config)
    notes: list[str] = []
    answered = int(data.answered.sum())
    mean = float(data.csat[data.answered].mean()) if answered else math.nan
    model = fit_wait_model(data, settings)
    weights = fit_weights(data, config, settings, model)
    if weights is None:
        notes.append(
            f"Weights unchanged: fewer than {settings.min_responses} answers with a first"
            " response time, or no cost of waiting found."
        )
    elif weights.expected_gain <= 0:
        notes.append(
            "Weights unchanged: the fitted weights would not raise CSAT"
            f" (expected effect {weights.expected_gain:+.3f})."
        )
        weights = None
    # Rules are compared on CSAT net of waiting: waits follow a team's load, which the
    # rule itself changes, while a team's fit for a ticket stays.
    net = data.csat.copy()
    if model is not None:
        costs = model.costs
        net += np.nan_to_num((costs[0] + data.factors @ costs[1:]) * data.wait)
    rules, compared = propose_rules(data, config, settings, net)
    new_text = _edit_config(config_text, config, weights, rules)
    parse_config_text(new_text, source=f"{source} (tuned)")  # never hand back an invalid config
    diff = "".join(
        difflib.unified_diff(
            config_text.splitlines(keepends=True),
            new_text.splitlines(keepends=True),
            fromfile=source,
            tofile=f"{source} (tuned)",
        )
    )
    gain = (weights.expected_gain if weights else 0.0) + sum(r.expected_gain for r in rules)
    return TuneResult(
        tickets=len(outcomes),
        responses=answered,
        mean_csat=mean,
        predicted_mean_csat=mean + gain,
        weights=weights,
        rules=tuple(rules),
        segments_compared=compared,
        config_text=new_text,
        diff=diff,
        notes=tuple(notes),
    )


# -- the outcomes as arrays ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Outcomes:
    """Outcome columns as arrays, with where each ticket's rule run stopped."""

    items: Sequence[TicketOutcome]
    csat: NDArray[np.float64]  # NaN where unanswered
    answered: NDArray[np.bool_]
    factors: NDArray[np.float64]  # (n, len(FACTORS))
    wait: NDArray[np.float64]  # first-response hours, NaN where unknown
    team: NDArray[np.int64]
    teams: tuple[str, ...]
    # Index of the first matched rule with `stop` (len(rules): the run went to the end);
    # -1 where the decision cannot be moved by a rule (a person's, or unknown rules).
    stopped_at: NDArray[np.int64]
    stratum: NDArray[np.int64]  # deal band x engagement band x open anomaly, for matching

    @classmethod
    def of(cls, outcomes: Sequence[TicketOutcome], config: RoutingConfig) -> _Outcomes:
        index = {rule.name: i for i, rule in enumerate(config.rules)}
        teams = tuple(sorted({o.team for o in outcomes}))
        team_code = {t: i for i, t in enumerate(teams)}
        stopped = np.full(len(outcomes), len(config.rules), dtype=np.int64)
        for i, o in enumerate(outcomes):
            known = [index.get(name) for name in o.rules]
            if None in known or o.team_source.startswith("person:"):
                stopped[i] = -1
                continue
            stops = [k for k in known if k is not None and config.rules[k].then.stop]
            if stops:
                stopped[i] = min(stops)
        csat = np.array([np.nan if o.csat is None else o.csat for o in outcomes], dtype=float)
        return cls(
            items=outcomes,
            csat=csat,
            answered=~np.isnan(csat),
            factors=np.array([o.factors for o in outcomes], dtype=float).reshape(-1, len(FACTORS)),
            wait=np.array(
                [
                    np.nan if o.first_response_hours is None else o.first_response_hours
                    for o in outcomes
                ],
                dtype=float,
            ),
            team=np.array([team_code[o.team] for o in outcomes], dtype=np.int64),
            teams=teams,
            stopped_at=stopped,
            stratum=np.array([_stratum(o) for o in outcomes], dtype=np.int64),
        )


# Deal-value bands (lower edges): with the engagement band, the promotion type, the
# region and an open anomaly they say which tickets are comparable.
DEAL_BANDS = (0.0, 5_000.0, 20_000.0, 50_000.0)
_PROMOTIONS = (None, *PromotionType)
_REGIONS = 8  # regions hashed into this many buckets
STRATA = len(DEAL_BANDS) * len(BAND_EDGES) * 2 * len(_PROMOTIONS) * _REGIONS


def _stratum(outcome: TicketOutcome) -> int:
    deal = int(np.searchsorted(DEAL_BANDS, outcome.deal_value or 0.0, side="right")) - 1
    band = [b for b, _ in BAND_EDGES].index(outcome.engagement_band)
    code = (deal * len(BAND_EDGES) + band) * 2 + int(outcome.has_open_anomaly)
    code = code * len(_PROMOTIONS) + _PROMOTIONS.index(outcome.promotion_type)
    return code * _REGIONS + zlib.crc32(outcome.region.encode()) % _REGIONS


# -- weights --------------------------------------------------------------------------------


def _design(data: _Outcomes, rows: NDArray[np.int64]) -> tuple[NDArray[np.float64], int]:
    """Columns: team and category indicators, the factors, then -wait and -wait x factor."""
    items = data.items
    categories = sorted({str(o.category) for o in items})
    cat_code = {c: k for k, c in enumerate(categories)}
    n = len(rows)
    teams = np.zeros((n, len(data.teams)))
    teams[np.arange(n), data.team[rows]] = 1.0
    cats = np.zeros((n, len(categories)))
    cats[np.arange(n), [cat_code[str(items[i].category)] for i in rows]] = 1.0
    flags = np.array([(items[i].reassigned, items[i].reopened) for i in rows], dtype=float)
    x = data.factors[rows]
    wait = data.wait[rows][:, None]
    controls = np.hstack([teams, cats[:, 1:], flags.reshape(n, 2), x])
    return np.hstack([controls, -wait, -wait * x]), controls.shape[1]


def _solve(matrix: NDArray[np.float64], y: NDArray[np.float64], free: int) -> NDArray[np.float64]:
    """Least squares with the wait costs (every column after the controls) at or above 0."""
    lower = np.concatenate([np.full(free, -np.inf), np.zeros(matrix.shape[1] - free)])
    # The same problem on the small triangular factor: ||Ax - y|| = ||Rx - Q'y|| + const.
    q, r = np.linalg.qr(matrix)
    fit = lsq_linear(r, q.T @ y, bounds=(lower, np.full(matrix.shape[1], np.inf)))
    return np.asarray(fit.x, dtype=float)


@dataclass(frozen=True, slots=True)
class WaitModel:
    """CSAT as team, category, factors and the cost of waiting; ``costs`` per hour are the
    base cost, then one per factor at value 1."""

    coef: NDArray[np.float64]
    free: int  # coefficients before the costs
    noise: float  # residual standard deviation
    rows: NDArray[np.int64]  # the answers it was fitted on

    @property
    def costs(self) -> NDArray[np.float64]:
        return self.coef[self.free :]


def fit_wait_model(data: _Outcomes, settings: TuneSettings) -> WaitModel | None:
    """Fit on the answers with a first response time up to ``max_wait_hours``."""
    rows = np.flatnonzero(
        data.answered & ~np.isnan(data.wait) & (data.wait <= settings.max_wait_hours)
    )
    if len(rows) < max(settings.min_responses, 4 * (len(FACTORS) + len(data.teams))):
        return None
    matrix, free = _design(data, rows)
    coef = _solve(matrix, data.csat[rows], free)
    residual = data.csat[rows] - matrix @ coef
    return WaitModel(coef, free, float(residual.std()), rows)


def fit_weights(
    data: _Outcomes,
    config: RoutingConfig,
    settings: TuneSettings,
    model: WaitModel | None,
) -> WeightProposal | None:
    """Weights proportional to the fitted cost of waiting per factor (None: no evidence)."""
    if model is None or model.costs[1:].sum() <= 0:
        return None
    costs = model.costs
    per_factor = costs[1:]
    proposed = _rounded_weights(per_factor / per_factor.sum())
    rows = model.rows
    intervals: dict[str, tuple[float, float]] = {}
    if settings.bootstrap:
        matrix, free = _design(data, rows)
        y = data.csat[rows]
        rng = np.random.default_rng(settings.random_state)
        samples = []
        for _ in range(settings.bootstrap):
            pick = rng.integers(len(rows), size=len(rows))
            sample = _solve(matrix[pick], y[pick], free)[free + 1 :]
            if sample.sum() > 0:
                samples.append(sample / sample.sum())
        if samples:
            tail = 100 * (1 - settings.confidence) / 2
            low, high = np.percentile(np.array(samples), [tail, 100 - tail], axis=0)
            intervals = {
                name: (float(lo), float(hi))
                for name, lo, hi in zip(FACTORS, low, high, strict=True)
            }
    current = dict(config.scoring.weights)
    return WeightProposal(
        current=current,
        proposed=proposed,
        intervals=intervals,
        cost_per_hour={name: float(c) for name, c in zip(FACTORS, per_factor, strict=True)},
        base_cost_per_hour=float(costs[0]),
        responses=len(rows),
        expected_gain=_reorder_gain(data, config.tiers, current, proposed, model),
    )


def _rounded_weights(shares: NDArray[np.float64]) -> dict[str, float]:
    """Shares rounded to 0.01 that still sum to exactly 1 (the largest absorbs the rest)."""
    rounded = np.round(shares, 2)
    rounded[int(np.argmax(rounded))] += round(1.0 - float(rounded.sum()), 2)
    return {name: round(float(v), 2) for name, v in zip(FACTORS, rounded, strict=True)}


def _reorder_gain(
    data: _Outcomes,
    tiers: tuple[Tier, ...],
    current: dict[str, float],
    proposed: dict[str, float],
    model: WaitModel,
) -> float:
    """Expected change of mean CSAT if each team's queue had been served in the new order."""
    known = ~np.isnan(data.wait)
    if not data.answered.any():
        return 0.0
    old_w = np.array([current[name] for name in FACTORS])
    new_w = np.array([proposed[name] for name in FACTORS])
    old_score = 100 * data.factors @ old_w
    new_score = 100 * data.factors @ new_w
    ranks = np.empty(len(data.items), dtype=np.int64)
    for i, o in enumerate(data.items):
        by_tier = PRIORITY_RANK[priority_for(float(new_score[i]), tiers)]
        # A rule that raised the priority above its tier (a floor) would raise it again.
        raised = PRIORITY_RANK[o.priority] < PRIORITY_RANK[priority_for(float(old_score[i]), tiers)]
        ranks[i] = min(by_tier, PRIORITY_RANK[o.priority]) if raised else by_tier
    created = np.array([o.created_at.timestamp() / 3600 for o in data.items])
    new_wait = data.wait.copy()
    for team in range(len(data.teams)):
        members = np.flatnonzero((data.team == team) & known)
        members = members[np.argsort(created[members], kind="stable")]
        for stretch in _waiting_stretches(created[members], data.wait[members]):
            rows = members[stretch]
            starts = np.sort(created[rows] + data.wait[rows])
            new_wait[rows] = (
                _serve_in_order(created[rows], starts, ranks[rows], -new_score[rows])
                - created[rows]
            )
    # The model's expected CSAT before and after, kept to the 1..5 scale: a ticket that
    # waited so long its partner answered 1 gains little from waiting a bit less.
    rows = np.flatnonzero(known)
    matrix, _ = _design(data, rows)
    before = matrix @ model.coef
    costs = model.costs
    after = before - (costs[0] + data.factors[rows] @ costs[1:]) * (
        new_wait[rows] - data.wait[rows]
    )
    change = np.zeros(len(data.items))
    change[rows] = _expected_on_scale(after, model.noise) - _expected_on_scale(before, model.noise)
    return float(change[data.answered].mean())


_NODES = np.array([NormalDist().inv_cdf((k + 0.5) / 41) for k in range(41)])


def _expected_on_scale(mean: NDArray[np.float64], noise: float) -> NDArray[np.float64]:
    """Mean of a normal answer clipped to 1..5, by quadrature on fixed quantiles."""
    values = np.clip(mean[:, None] + noise * _NODES[None, :], 1.0, 5.0)
    result: NDArray[np.float64] = values.mean(axis=1)
    return result


def _waiting_stretches(
    created: NDArray[np.float64], wait: NDArray[np.float64]
) -> list[NDArray[np.int64]]:
    """Runs of tickets (sorted by arrival) whose waits overlap: they queued together."""
    stretches: list[NDArray[np.int64]] = []
    begin, until = 0, -math.inf
    for i, (arrived, waited) in enumerate(zip(created, wait, strict=True)):
        if arrived >= until and i > begin:
            stretches.append(np.arange(begin, i))
            begin = i
        until = max(until, arrived + waited)
    if len(created) > begin:
        stretches.append(np.arange(begin, len(created)))
    return [s for s in stretches if len(s) > 1]


def _serve_in_order(
    created: NDArray[np.float64],
    starts: NDArray[np.float64],
    rank: NDArray[np.int64],
    neg_score: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Give each start time, in turn, to the best-ranked ticket already waiting."""
    order = np.argsort(created, kind="stable")
    waiting: list[tuple[int, float, float, int]] = []
    given = np.empty(len(created))
    next_arrival = 0
    for start in starts:
        while next_arrival < len(order) and created[order[next_arrival]] <= start:
            k = int(order[next_arrival])
            heapq.heappush(waiting, (int(rank[k]), float(neg_score[k]), float(created[k]), k))
            next_arrival += 1
        if not waiting:  # cannot happen for start times taken from these same tickets
            k = int(order[next_arrival])
            heapq.heappush(waiting, (int(rank[k]), float(neg_score[k]), float(created[k]), k))
            next_arrival += 1
        given[heapq.heappop(waiting)[3]] = start
    return given


# -- rules ----------------------------------------------------------------------------------


def _segment_values(outcome: TicketOutcome, dimension: Dimension) -> str | None:
    if dimension is Dimension.CATEGORY:
        return outcome.category.value if outcome.category else None
    if dimension is Dimension.PROMOTION_TYPE:
        return outcome.promotion_type.value if outcome.promotion_type else None
    if dimension is Dimension.ENGAGEMENT_BAND:
        return outcome.engagement_band.value
    if dimension is Dimension.REGION:
        return outcome.region or None
    if dimension is Dimension.PARTNER_TIER:
        return outcome.partner_tier.value if outcome.partner_tier else None
    return outcome.urgency.value


@dataclass(frozen=True, slots=True)
class _Candidate:
    dims: tuple[Dimension, ...]
    members: NDArray[np.int64]  # every ticket of the segment
    team: int
    position: int
    responses: int  # moved answers
    diff: float
    se: float


def propose_rules(
    data: _Outcomes, config: RoutingConfig, settings: TuneSettings, net: NDArray[np.float64]
) -> tuple[list[RuleProposal], int]:
    """Greedy: the best-evidenced segment first; its moved tickets leave the later rounds."""
    codes = _codes(data, settings.dimensions)
    required = {settings.dimensions.index(d) for d in settings.required}
    combos = [
        combo
        for size in range(1, settings.max_dimensions + 1)
        for combo in itertools.combinations(range(len(settings.dimensions)), size)
        if required <= set(combo)
    ]
    z = NormalDist().inv_cdf(0.5 + settings.confidence / 2)
    active = np.ones(len(data.items), dtype=bool)
    total_answers = int(data.answered.sum())
    proposals: list[RuleProposal] = []
    compared = 0
    z_gate = z
    names = {rule.name for rule in config.rules}
    for _ in range(settings.max_rules):
        candidates = [
            c for combo in combos for c in _candidates(data, net, codes, combo, active, settings)
        ]
        if not proposals:
            compared = len(candidates)
            z_gate = NormalDist().inv_cdf(1 - (1 - settings.confidence) / (2 * max(1, compared)))
        passing = [
            c
            for c in candidates
            if c.diff >= settings.min_difference and c.diff - z_gate * c.se > 0
        ]
        if not passing:
            break
        # The clearest effect first (its lower bound), then the one that reaches more tickets:
        # a broad segment that mixes a strong effect with none waits for its parts.
        best = max(passing, key=lambda c: (c.diff - z * c.se, c.responses))
        members = best.members
        moved = members[
            (data.team[members] != best.team) & (data.stopped_at[members] >= best.position)
        ]
        active[moved] = False
        proposal = _proposal(data, config, best, moved, z, settings, total_answers, names)
        names.add(proposal.name)
        proposals.append(proposal)
    return proposals, compared


def _codes(data: _Outcomes, dimensions: Sequence[Dimension]) -> NDArray[np.int64]:
    """One column per dimension: each ticket's value as a code (-1: missing)."""
    codes = np.full((len(data.items), len(dimensions)), -1, dtype=np.int64)
    for d, dimension in enumerate(dimensions):
        seen: dict[str, int] = {}
        for i, outcome in enumerate(data.items):
            value = _segment_values(outcome, dimension)
            if value is not None:
                codes[i, d] = seen.setdefault(value, len(seen))
    return codes


def _candidates(
    data: _Outcomes,
    net: NDArray[np.float64],
    codes: NDArray[np.int64],
    combo: tuple[int, ...],
    active: NDArray[np.bool_],
    settings: TuneSettings,
) -> list[_Candidate]:
    """Every (segment, better team, rule position) with enough answers on both sides."""
    minimum = settings.min_responses
    columns = codes[:, combo]
    rows = np.flatnonzero(active & (columns >= 0).all(axis=1))
    found: list[_Candidate] = []
    if not len(rows):
        return found
    radix = columns.max(axis=0) + 1
    keys = np.zeros(len(columns), dtype=np.int64)
    for c in range(len(combo)):
        keys = keys * radix[c] + columns[:, c]
    unique, inverse = np.unique(keys[rows], return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(unique) + 1))
    dims = tuple(settings.dimensions[c] for c in combo)
    for g in range(len(unique)):
        members = rows[order[bounds[g] : bounds[g + 1]]]
        answered = members[data.answered[members]]
        if len(answered) < 2 * minimum:
            continue
        counts = np.bincount(data.team[answered], minlength=len(data.teams))
        for team in np.flatnonzero(counts >= minimum):
            better = answered[data.team[answered] == team]
            others = answered[(data.team[answered] != team) & (data.stopped_at[answered] >= 0)]
            for position in np.unique(data.stopped_at[others]):
                moved = others[data.stopped_at[others] >= position]
                if len(moved) < minimum:
                    continue
                compared = _matched_difference(data, net, better, moved)
                if compared is None:
                    continue
                matched, diff, se = compared
                if matched >= minimum and matched >= settings.min_matched_share * len(moved):
                    found.append(
                        _Candidate(dims, members, int(team), int(position), matched, diff, se)
                    )
    return found


def _matched_difference(
    data: _Outcomes, net: NDArray[np.float64], better: NDArray[np.int64], moved: NDArray[np.int64]
) -> tuple[int, float, float] | None:
    """Better minus moved, within strata both sides have, weighted by the moved tickets.

    A moved ticket in a stratum the better team never handled counts as no gain: there
    is nothing comparable to say it would gain. Returns the moved answers matched, the
    difference and its standard error.
    """
    n_b = np.bincount(data.stratum[better], minlength=STRATA)
    n_m = np.bincount(data.stratum[moved], minlength=STRATA)
    shared = (n_b > 0) & (n_m > 0)
    matched = int(n_m[shared].sum())
    if matched < 2 or len(better) < 2:
        return None
    sum_b = np.bincount(data.stratum[better], weights=net[better], minlength=STRATA)
    sum_m = np.bincount(data.stratum[moved], weights=net[moved], minlength=STRATA)
    weight = np.where(shared, n_m, 0) / len(moved)
    with np.errstate(invalid="ignore", divide="ignore"):
        gaps = np.where(shared, sum_b / np.maximum(n_b, 1) - sum_m / np.maximum(n_m, 1), 0.0)
    var_b, var_m = float(net[better].var(ddof=1)), float(net[moved].var(ddof=1))
    variance = np.sum(weight**2 * (var_b / np.maximum(n_b, 1) + var_m / np.maximum(n_m, 1)))
    return matched, float(np.sum(weight * gaps)), math.sqrt(float(variance))


def _proposal(
    data: _Outcomes,
    config: RoutingConfig,
    best: _Candidate,
    moved: NDArray[np.int64],
    z: float,
    settings: TuneSettings,
    total_answers: int,
    taken: set[str],
) -> RuleProposal:
    first = data.items[int(best.members[0])]
    segment = tuple((dim, _segment_values(first, dim) or "") for dim in best.dims)
    team = data.teams[best.team]
    arms = []
    answered = moved[data.answered[moved]]
    for code in sorted(set(data.team[answered].tolist())):
        scores = data.csat[answered[data.team[answered] == code]]
        arms.append(Arm(data.teams[code], len(scores), float(scores.mean())))
    arms.sort(key=lambda a: -a.responses)
    better = best.members[data.answered[best.members] & (data.team[best.members] == best.team)]
    name = "tuned: " + ", ".join(value for _, value in segment) + f" to {team}"
    base, suffix = name, 2
    while name in taken:
        name, suffix = f"{base} ({suffix})", suffix + 1
    return RuleProposal(
        name=name,
        segment=segment,
        team=team,
        before_rule=config.rules[best.position].name if best.position < len(config.rules) else None,
        better=Arm(team, len(better), float(data.csat[better].mean())),
        moved=tuple(arms),
        moved_tickets=len(moved),
        difference=Interval(
            best.diff, best.diff - z * best.se, best.diff + z * best.se, settings.confidence
        ),
        # Moved tickets without comparable evidence are assumed to gain alike.
        expected_gain=len(answered) * best.diff / max(1, total_answers),
        conditions=tuple(c for dim, value in segment for c in _conditions(dim, value)),
    )


def _conditions(dimension: Dimension, value: str) -> list[dict[str, Any]]:
    """The rule conditions that select one value of a dimension."""
    if dimension is Dimension.ENGAGEMENT_BAND:
        edges = dict(BAND_EDGES)
        band = EngagementBand(value)
        above = [b for b, _ in BAND_EDGES][: [b for b, _ in BAND_EDGES].index(band)]
        parts: list[dict[str, Any]] = []
        if edges[band] > 0:
            parts.append({"field": "engagement_percentile", "op": ">=", "value": edges[band]})
        if above:
            parts.append({"field": "engagement_percentile", "op": "<", "value": edges[above[-1]]})
        return parts
    field_name = {
        Dimension.CATEGORY: "ticket.category",
        Dimension.PROMOTION_TYPE: "campaign.promotion_type",
        Dimension.REGION: "ticket.region",
        Dimension.PARTNER_TIER: "partner.tier",
        Dimension.URGENCY: "ticket.urgency",
    }[dimension]
    return [{"field": field_name, "op": "==", "value": value}]


# -- the new configuration text ------------------------------------------------------------


def _flow(mapping: dict[str, Any]) -> CommentedMap:
    node = CommentedMap(mapping)
    node.fa.set_flow_style()
    return node


def _edit_config(
    text: str,
    config: RoutingConfig,
    weights: WeightProposal | None,
    rules: Sequence[RuleProposal],
) -> str:
    """The config text with the proposals written in; comments and layout are kept."""
    if weights is None and not rules:
        return text
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    data = yaml.load(text)
    if weights is not None:
        target = data["scoring"]["weights"]
        for name in FACTORS:
            target[name] = weights.proposed[name]
    if rules:
        if data.get("rules") is None:
            data["rules"] = CommentedSeq()
        listed = data["rules"]
        # Insert from the back so earlier positions keep their meaning.
        positions = {rule.name: i for i, rule in enumerate(config.rules)}
        placed = sorted(
            enumerate(rules),
            key=lambda item: (
                -(positions[item[1].before_rule] if item[1].before_rule else len(config.rules)),
                -item[0],
            ),
        )
        for _, rule in placed:
            at = positions[rule.before_rule] if rule.before_rule else len(listed)
            d = rule.difference
            node = CommentedMap()
            node["name"] = rule.name
            node["description"] = (
                f"proposed by affroute tune: CSAT {rule.better.mean_csat:.2f} with {rule.team}"
                f" (n={rule.better.responses}) vs {rule.moved_mean_csat:.2f}"
                f" (n={rule.moved_responses}), difference {d.estimate:+.2f}"
                f" ({d.confidence:.0%} interval {d.low:+.2f}..{d.high:+.2f})"
            )
            conditions = CommentedSeq([_flow(c) for c in rule.conditions])
            conditions.fa.set_flow_style()
            node["when"] = _flow({"all": conditions})
            node["then"] = _flow({"team": rule.team, "tags": ["tuned"], "stop": True})
            node.yaml_set_start_comment("proposed by affroute tune", indent=2)
            listed.insert(at, node)
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()
