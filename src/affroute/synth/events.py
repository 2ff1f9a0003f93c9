"""Seeded click, lead and conversion logs with injected attribution anomalies and their truth.

Traffic is drawn in whole arrays: per partner x campaign a daily click rate (log-normal
sizes, a weekly profile, day-to-day noise), conversions at the campaign's rate times the
partner's own factor with a log-normal click-to-conversion lag, leads with hashed contacts
(a few honest repeats), and the network's and advertiser's daily counts (a little noise).
Then each kind of anomaly is injected on its own partners, and recorded as ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import polars as pl
from numpy.typing import NDArray

from affroute.anomaly.detect import (
    CLICK_DROP,
    CLICK_SPIKE,
    CONVERSION_DROP,
    CONVERSION_MISMATCH,
    CONVERSION_RATE,
    CONVERSION_SPIKE,
    DUPLICATE_LEADS,
    LAG_DISTRIBUTION,
    SHORT_LAG,
)
from affroute.anomaly.events import EVENT_SCHEMA, EventKind

_WEEKLY = np.array([1.0, 1.03, 1.02, 0.98, 0.93, 0.62, 0.55])  # Monday..Sunday
_DEVICES = 40
_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class EventLogSpec:
    """How much traffic, over how long, and how many anomalies of each kind to inject."""

    events: int = 300_000
    partners: int = 60
    campaigns: int = 6
    days: int = 42
    start: datetime = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
    per_kind: int = 3  # partners (or partner x campaign pairs) per injected kind

    def __post_init__(self) -> None:
        if self.events < 10_000 or self.partners < 12 or self.campaigns < 1 or self.days < 14:
            raise ValueError("EventLogSpec needs >= 10,000 events, 12 partners and 14 days")
        if self.per_kind < 1 or 9 * self.per_kind > self.partners:
            raise ValueError("EventLogSpec.per_kind: 9 kinds x per_kind must fit the partners")


@dataclass(frozen=True, slots=True)
class TrueAnomaly:
    kind: str
    partner_id: str
    campaign_id: str | None
    note: str


@dataclass(slots=True)
class EventLog:
    events: pl.DataFrame
    counts: pl.DataFrame
    truth: list[TrueAnomaly] = field(default_factory=list)
    partners: list[str] = field(default_factory=list)


def generate_event_log(spec: EventLogSpec, rng: np.random.Generator) -> EventLog:
    """A log of about ``spec.events`` events; the same seed gives the same log."""
    partners = [f"P{i:04d}" for i in range(spec.partners)]
    campaigns = [f"C{i:03d}" for i in range(spec.campaigns)]
    # Each partner promotes 1-3 campaigns; pairs are (partner, campaign).
    pair_partner: list[int] = []
    pair_campaign: list[int] = []
    for p in range(spec.partners):
        chosen = rng.choice(
            spec.campaigns, size=min(spec.campaigns, 1 + int(rng.integers(3))), replace=False
        )
        pair_partner += [p] * len(chosen)
        pair_campaign += sorted(int(c) for c in chosen)
    pp, pc = np.array(pair_partner), np.array(pair_campaign)
    pairs = len(pp)
    size = rng.lognormal(0.0, 0.9, spec.partners)[pp] * rng.lognormal(0.0, 0.3, pairs)
    campaign_rate = rng.uniform(0.02, 0.06, spec.campaigns)
    pair_rate = campaign_rate[pc] * rng.lognormal(0.0, 0.2, pairs)
    campaign_lag = rng.uniform(np.log(600), np.log(7200), spec.campaigns)  # median 10 min-2 h
    lead_rate = 0.04
    days = np.arange(spec.days)
    weekday = (spec.start.weekday() + days) % 7
    mean_clicks = spec.events / (1 + lead_rate + campaign_rate.mean()) / spec.days
    daily = (
        np.outer(size / size.sum() * mean_clicks, _WEEKLY[weekday] / _WEEKLY[weekday].mean())
        * rng.lognormal(0.0, 0.08, (spec.partners, spec.days))[pp]
    )
    clicks = rng.poisson(daily)  # pairs x days
    conversions = rng.binomial(clicks, np.minimum(pair_rate, 0.9)[:, None])
    leads = rng.binomial(clicks, lead_rate)

    by_volume = np.argsort(-np.bincount(pp, weights=conversions.sum(axis=1)))
    order = [int(p) for p in by_volume]
    truth: list[TrueAnomaly] = []
    taken: set[int] = set()

    def pick(
        count: int, eligible: NDArray[np.bool_] | None = None, largest: bool = False
    ) -> list[int]:
        """``count`` untouched pairs (at most one per partner), largest partners first or random."""
        candidates = (
            [i for p in order for i in np.flatnonzero(pp == p)]
            if largest
            else list(rng.permutation(pairs))
        )
        chosen: list[int] = []
        for i in candidates:
            if int(pp[i]) in taken or (eligible is not None and not eligible[i]):
                continue
            chosen.append(int(i))
            taken.add(int(pp[i]))
            if len(chosen) == count:
                break
        return chosen

    def record(kind: str, pair: int, note: str, partner_level: bool = False) -> None:
        campaign = None if partner_level else campaigns[pc[pair]]
        truth.append(TrueAnomaly(kind, partners[pp[pair]], campaign, note))

    k = spec.per_kind
    judged_days = slice(7, spec.days - 2)  # keep away from the edges of the log
    # Spikes and drops: on the partner's whole traffic, for a few days.
    for kind, factor, metric in (
        (CONVERSION_DROP, 0.03, "conversion"),  # conversions are fewer: largest partners
        (CONVERSION_SPIKE, rng.uniform(5, 8), "conversion"),
        (CLICK_SPIKE, rng.uniform(5, 8), "click"),
        (CLICK_DROP, 0.05, "click"),
    ):
        for pair in pick(k, largest=True):
            span = int(rng.integers(1, 3) if factor > 1 else rng.integers(2, 5))  # outages last
            first = int(rng.integers(judged_days.start, judged_days.stop - span))
            rows = np.flatnonzero(pp == pp[pair])
            window = slice(first, first + span)
            target = clicks if metric == "click" else conversions
            target[rows, window] = rng.poisson(target[rows, window] * factor)
            record(kind, pair, f"{metric}s x{factor:.2f} from day {first} for {span} day(s)", True)
    conv_total = conversions.sum(axis=1)
    click_total = clicks.sum(axis=1)
    # Conversion-rate outliers: many more conversions, or far fewer, than the campaign's peers.
    rate_high = pick(k, (click_total >= 1500) & (conv_total >= 20))
    rate_low = pick(k, (click_total >= 1500) & (conv_total >= 80))
    for pair in rate_high:
        conversions[pair] = rng.binomial(clicks[pair], min(0.9, pair_rate[pair] * 6))
        record(CONVERSION_RATE, pair, "conversion rate x6")
    for pair in rate_low:
        conversions[pair] = rng.binomial(conversions[pair], 0.08)
        record(CONVERSION_RATE, pair, "conversion rate x0.08")
    short_pairs = pick(k, conv_total >= 30)
    slow_pairs = pick(k, conv_total >= 30)
    dup_pairs = pick(k, leads.sum(axis=1) >= 60)
    mismatch_pairs = pick(k, conv_total >= 60)

    events = _expand(spec, rng, clicks, conversions, leads, pp, pc, partners, campaigns)
    # A pair's median lag is its campaign's give or take a little; each conversion's varies.
    lag = np.exp(campaign_lag[pc] + rng.normal(0.0, 0.15, pairs))
    events = _conversion_times(events, rng, lag, short_pairs, slow_pairs)
    for pair in short_pairs:
        record(SHORT_LAG, pair, "40% of conversions 0.5-8 s after the click")
    for pair in slow_pairs:
        record(LAG_DISTRIBUTION, pair, "lags x12-30 (click spamming)")
    events = _duplicate_leads(events, rng, dup_pairs, pp, pc, partners, campaigns)
    for i, pair in enumerate(dup_pairs):
        record(DUPLICATE_LEADS, pair, "across partners" if i % 2 else "within the partner")

    counts = _daily_counts(
        events, rng, [(partners[pp[p]], campaigns[pc[p]]) for p in mismatch_pairs]
    )
    for pair in mismatch_pairs:
        record(CONVERSION_MISMATCH, pair, "network reports +30-80% on 4-8 days")
    return EventLog(without_helpers(events).sort("at", "line"), counts, truth, partners)


def _expand(
    spec: EventLogSpec,
    rng: np.random.Generator,
    clicks: NDArray[np.int64],
    conversions: NDArray[np.int64],
    leads: NDArray[np.int64],
    pp: NDArray[np.int64],
    pc: NDArray[np.int64],
    partners: list[str],
    campaigns: list[str],
) -> pl.DataFrame:
    """One row per event: kind, pair, time of day uniform within its day."""
    frames = []
    pair_index = np.arange(clicks.shape[0])
    for kind, counts in (("click", clicks), ("lead", leads), ("conversion", conversions)):
        flat = counts.ravel()
        pair = np.repeat(np.repeat(pair_index, counts.shape[1]), flat)
        day = np.repeat(np.tile(np.arange(counts.shape[1]), counts.shape[0]), flat)
        seconds = day * _DAY + rng.uniform(0, _DAY, pair.size)
        frames.append(
            pl.DataFrame(
                {
                    "event": pl.Series([kind], dtype=EventKind).gather(
                        np.zeros(pair.size, np.int64)
                    ),
                    "pair": pair,
                    "seconds": seconds,
                }
            )
        )
    frame = pl.concat(frames)
    n = frame.height
    ip = rng.integers(1, 2**32 - 1, n, dtype=np.int64)
    start_us = int(spec.start.timestamp() * 1_000_000)
    partner_names = pl.Series(partners)
    campaign_names = pl.Series(campaigns)
    return frame.select(
        pl.int_range(2, n + 2, dtype=pl.Int64).alias("line"),
        "event",
        (pl.lit(start_us) + (pl.col("seconds") * 1_000_000).cast(pl.Int64))
        .cast(pl.Datetime("us", "UTC"))
        .alias("at"),
        partner_names.gather(pp[frame.get_column("pair").to_numpy()]).alias("partner_id"),
        campaign_names.gather(pc[frame.get_column("pair").to_numpy()]).alias("campaign_id"),
        pl.lit(None, pl.String()).alias("click_id"),
        pl.Series(ip).cast(pl.String()).alias("ip"),
        pl.Series(rng.integers(0, _DEVICES, n)).cast(pl.String()).alias("device"),
        pl.lit(None, pl.String()).alias("contact_hash"),
        pl.when(pl.col("event") == "conversion")
        .then(pl.Series(rng.gamma(2.0, 20.0, n)).round(2))
        .alias("value"),
        pl.lit(None, pl.Datetime("us", "UTC")).alias("click_at"),
        "pair",
        pl.Series(rng.integers(0, 2**62, n, dtype=np.int64)).alias("contact"),
    )


def _conversion_times(
    events: pl.DataFrame,
    rng: np.random.Generator,
    pair_lag: NDArray[np.float64],
    short_pairs: list[int],
    slow_pairs: list[int],
) -> pl.DataFrame:
    """Each conversion's click time: a log-normal lag, injected (fast) or spammed (slow)."""
    is_conv = (events.get_column("event") == "conversion").to_numpy()
    pair = events.get_column("pair").to_numpy()
    lag = np.full(events.height, np.nan)
    conv_pairs = pair[is_conv]
    seconds = rng.lognormal(np.log(pair_lag[conv_pairs]), 1.0)
    fast = np.isin(conv_pairs, short_pairs) & (rng.random(conv_pairs.size) < 0.4)
    seconds[fast] = rng.uniform(0.5, 8.0, int(fast.sum()))
    slow = np.isin(conv_pairs, slow_pairs)
    seconds[slow] *= rng.uniform(12, 30, int(slow.sum()))
    lag[is_conv] = seconds
    lag_ms = pl.Series("lag_ms", np.nan_to_num(lag * 1000).astype(np.int64))
    return events.with_columns(
        pl.when(pl.col("event") == "conversion")
        .then(pl.col("at") - pl.duration(milliseconds=pl.lit(lag_ms)))
        .alias("click_at")
    )


def _duplicate_leads(
    events: pl.DataFrame,
    rng: np.random.Generator,
    dup_pairs: list[int],
    pp: NDArray[np.int64],
    pc: NDArray[np.int64],
    partners: list[str],
    campaigns: list[str],
) -> pl.DataFrame:
    """Honest repeats (a few people sign up twice) and injected ones (recycled contacts)."""
    leads = events.with_row_index("row").filter(pl.col("event") == "lead")
    contact = events.get_column("contact").to_numpy().copy()
    at = events.get_column("at").to_numpy().copy()
    rows = leads.get_column("row").to_numpy()
    # 0.5% of leads repeat an earlier lead of anyone within a day (people do sign up twice).
    honest = rows[rng.random(rows.size) < 0.005]
    sources = rng.choice(rows, honest.size)
    contact[honest] = contact[sources]
    at[honest] = at[sources] + rng.uniform(60, 20 * 3600, honest.size).astype("timedelta64[s]")
    lead_pair = leads.get_column("pair").to_numpy()
    for i, pair in enumerate(dup_pairs):
        mine = rows[lead_pair == pair]
        fake = mine[rng.random(mine.size) < 0.3]
        if i % 2:  # contacts first sent by another partner of the same campaign
            pool = rows[(pc[lead_pair] == pc[pair]) & (pp[lead_pair] != pp[pair])]
        else:
            pool = np.setdiff1d(mine, fake)
        if pool.size == 0 or fake.size == 0:
            continue
        src = rng.choice(pool, fake.size)
        contact[fake] = contact[src]
        at[fake] = at[src] + rng.uniform(60, 6 * 3600, fake.size).astype("timedelta64[s]")
    return events.with_columns(
        pl.when(pl.col("event") == "lead")
        .then(pl.Series(contact).cast(pl.String()))
        .alias("contact_hash"),
        pl.Series("at", at).dt.replace_time_zone("UTC").dt.cast_time_unit("us"),
    )


def _daily_counts(
    events: pl.DataFrame, rng: np.random.Generator, inflated: list[tuple[str, str]]
) -> pl.DataFrame:
    """Network and advertiser conversions per partner x campaign x day; some disagree."""
    daily = (
        events.filter(pl.col("event") == "conversion")
        .group_by("partner_id", "campaign_id", pl.col("at").dt.date().alias("day"))
        .len("advertiser_conversions")
        .sort("partner_id", "campaign_id", "day")
    )
    adv = daily.get_column("advertiser_conversions").to_numpy().astype(np.int64)
    network = np.maximum(0, np.round(adv * rng.normal(1.0, 0.015, adv.size))).astype(np.int64)
    keys = daily.select(pl.concat_str("partner_id", "campaign_id", separator="|")).to_series()
    for partner, campaign in inflated:
        rows = np.flatnonzero((keys == f"{partner}|{campaign}").to_numpy())
        if rows.size == 0:
            continue
        span = int(rng.integers(4, 9))
        first = int(rng.integers(0, max(1, rows.size - span)))
        chosen = rows[first : first + span]
        network[chosen] = np.round(adv[chosen] * rng.uniform(1.3, 1.8, chosen.size)) + 5
    return daily.with_columns(
        pl.int_range(2, daily.height + 2, dtype=pl.Int64).alias("line"),
        pl.Series("network_conversions", network),
        pl.col("advertiser_conversions").cast(pl.Int64),
    ).select(
        "line", "day", "partner_id", "campaign_id", "network_conversions", "advertiser_conversions"
    )


def without_helpers(events: pl.DataFrame) -> pl.DataFrame:
    """The event frame in the canonical schema (the generator's ``pair`` column dropped)."""
    events = events.with_columns(pl.lit(None, pl.String()).alias("event_id"))  # none sent
    return events.select(list(EVENT_SCHEMA))
