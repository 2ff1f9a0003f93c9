"""The five attribution anomaly detectors, each a few Polars group-bys over the event frame.

Every finding names its partner (and campaign, where it concerns one), carries a severity
in 0..1, a sentence a person can read and the numbers behind it (``evidence``), and a
``key`` that stays the same when the same anomaly is found again by a later scan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import polars as pl

from affroute.config import AnomalyConfig

DUPLICATE_LEADS = "duplicate_leads"
CONVERSION_MISMATCH = "conversion_mismatch"
CLICK_SPIKE = "click_spike"
CLICK_DROP = "click_drop"
CONVERSION_SPIKE = "conversion_spike"
CONVERSION_DROP = "conversion_drop"
SHORT_LAG = "short_click_to_conversion"
LAG_DISTRIBUTION = "lag_distribution"
CONVERSION_RATE = "conversion_rate_outlier"
# Detector -> the kinds of anomaly it reports.
DETECTORS: dict[str, tuple[str, ...]] = {
    "duplicate_leads": (DUPLICATE_LEADS,),
    "conversion_mismatch": (CONVERSION_MISMATCH,),
    "volume": (CLICK_SPIKE, CLICK_DROP, CONVERSION_SPIKE, CONVERSION_DROP),
    "lag": (SHORT_LAG, LAG_DISTRIBUTION),
    "conversion_rate": (CONVERSION_RATE,),
}
DETECTOR_OF = {kind: name for name, kinds in DETECTORS.items() for kind in kinds}
_MAD = 1.4826  # scales a median absolute deviation to a normal standard deviation
_EXAMPLES = 3


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected anomaly, before it is stored."""

    kind: str
    partner_id: str | None
    campaign_id: str | None
    severity: float
    summary: str
    evidence: dict[str, Any]
    key: str

    @property
    def detector(self) -> str:
        return DETECTOR_OF[self.kind]


@dataclass(slots=True)
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # detectors that could not run, and why

    def by_kind(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for finding in self.findings:
            counts[finding.kind] = counts.get(finding.kind, 0) + 1
        return counts


def scan(events: pl.DataFrame, counts: pl.DataFrame, config: AnomalyConfig) -> ScanResult:
    """Run the five detectors over validated events (see ``events.EVENT_SCHEMA``) and counts."""
    result = ScanResult()
    clicks = events.filter(pl.col("event") == "click")
    leads = events.filter(pl.col("event") == "lead")
    conversions = events.filter(pl.col("event") == "conversion")
    runs: list[tuple[list[Finding], list[str]]] = [
        duplicate_leads(leads, config),
        conversion_mismatch(counts, config),
        volume(clicks, conversions, config),
        lag(conversions, clicks, config),
        conversion_rate(clicks, conversions, config),
    ]
    for findings, notes in runs:
        result.findings.extend(findings)
        result.notes.extend(notes)
    result.findings.sort(key=lambda f: (f.kind, f.partner_id or "", f.campaign_id or "", f.key))
    return result


def _key(kind: str, partner: str | None, campaign: str | None, since: object = "") -> str:
    return f"{kind}|{partner or ''}|{campaign or ''}|{since}"


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%"


def _seconds(value: float) -> str:
    if value < 120:
        return f"{value:.0f} s"
    if value < 7200:
        return f"{value / 60:.0f} min"
    return f"{value / 3600:.1f} h"


def _where(partner: str | None, campaign: str | None) -> str:
    return f"partner {partner}" + (f" on campaign {campaign}" if campaign else "")


# --- duplicate leads ----------------------------------------------------------------------


def duplicate_lead_flags(leads: pl.DataFrame, config: AnomalyConfig) -> pl.DataFrame:
    """Each lead with ``duplicate`` (it repeats an earlier lead within the window) and how."""
    window = config.duplicate_leads.window
    keys: list[tuple[str, list[str]]] = [("contact", ["contact_hash"])]
    if config.duplicate_leads.use_ip_device:
        keys.append(("ip+device", ["ip", "device"]))
    frame = leads.select("line", "at", "partner_id", "campaign_id", "contact_hash", "ip", "device")
    frame = frame.with_columns(
        pl.lit(False).alias("duplicate"),
        pl.lit(None, pl.String()).alias("matched"),
        pl.lit(None, pl.String()).alias("first_partner"),
        pl.lit(None, pl.Int64()).alias("first_line"),
        pl.lit(None, pl.Float64()).alias("gap_seconds"),
    )
    for label, columns in keys:
        frame = frame.sort([*columns, "at", "line"])
        complete = pl.all_horizontal(pl.col(c).is_not_null() for c in columns)
        same_key = pl.all_horizontal(pl.col(c) == pl.col(c).shift(1) for c in columns)
        gap = pl.col("at") - pl.col("at").shift(1)
        hit = (complete & same_key & (gap <= window)).fill_null(False) & ~pl.col("duplicate")
        frame = frame.with_columns(
            pl.when(hit).then(True).otherwise(pl.col("duplicate")).alias("duplicate"),
            pl.when(hit).then(pl.lit(label)).otherwise(pl.col("matched")).alias("matched"),
            pl.when(hit)
            .then(pl.col("partner_id").shift(1))
            .otherwise(pl.col("first_partner"))
            .alias("first_partner"),
            pl.when(hit)
            .then(pl.col("line").shift(1))
            .otherwise(pl.col("first_line"))
            .alias("first_line"),
            pl.when(hit)
            .then(gap.dt.total_seconds().cast(pl.Float64))
            .otherwise(pl.col("gap_seconds"))
            .alias("gap_seconds"),
        )
    return frame


def duplicate_leads(leads: pl.DataFrame, config: AnomalyConfig) -> tuple[list[Finding], list[str]]:
    """Partners x campaigns whose leads repeat a contact (or ip + device) within the window."""
    if leads.is_empty():
        return [], ["duplicate leads: no lead events in the input"]
    cfg = config.duplicate_leads
    flags = duplicate_lead_flags(leads, config)
    dup = pl.col("duplicate")
    across = dup & (pl.col("first_partner") != pl.col("partner_id"))
    groups = (
        flags.sort("line")
        .group_by("partner_id", "campaign_id")
        .agg(
            pl.len().alias("leads"),
            dup.sum().alias("duplicates"),
            across.sum().alias("across"),
            pl.col("first_partner").filter(across).unique().sort().head(5).alias("others"),
            pl.struct("line", "first_line", "matched", "first_partner", "gap_seconds")
            .filter(dup)
            .head(_EXAMPLES)
            .alias("examples"),
        )
        .with_columns((pl.col("duplicates") / pl.col("leads")).alias("share"))
        .filter((pl.col("duplicates") >= cfg.min_count) & (pl.col("share") >= cfg.min_share))
    )
    window = _seconds(cfg.window.total_seconds())
    findings = []
    for row in groups.iter_rows(named=True):
        share, partner, campaign = float(row["share"]), row["partner_id"], row["campaign_id"]
        within = int(row["duplicates"]) - int(row["across"])
        scope = f"{within} within the partner, {row['across']} first sent by other partners"
        if row["others"]:
            scope += f" ({', '.join(row['others'])})"
        findings.append(
            Finding(
                kind=DUPLICATE_LEADS,
                partner_id=partner,
                campaign_id=campaign,
                severity=round(min(1.0, 0.2 + share), 3),
                summary=(
                    f"{row['duplicates']} of {row['leads']} leads ({_pct(share)}) from "
                    f"{_where(partner, campaign)} repeat a contact or ip + device seen within "
                    f"{window}: {scope}"
                ),
                evidence={
                    "leads": int(row["leads"]),
                    "duplicates": int(row["duplicates"]),
                    "share": round(share, 4),
                    "within_partner": within,
                    "across_partners": int(row["across"]),
                    "first_sent_by": list(row["others"]),
                    "window_seconds": cfg.window.total_seconds(),
                    "examples": row["examples"],
                },
                key=_key(DUPLICATE_LEADS, partner, campaign),
            )
        )
    return findings, []


# --- conversion mismatch ------------------------------------------------------------------


def conversion_mismatch(
    counts: pl.DataFrame, config: AnomalyConfig
) -> tuple[list[Finding], list[str]]:
    """Partners x campaigns whose network and advertiser counts disagree beyond tolerance."""
    if counts.is_empty():
        return [], ["conversion mismatch: no daily network/advertiser counts in the input"]
    cfg = config.conversion_mismatch
    daily = counts.group_by("day", "partner_id", "campaign_id").agg(
        pl.col("network_conversions").sum(), pl.col("advertiser_conversions").sum()
    )
    gap = pl.col("network_conversions") - pl.col("advertiser_conversions")
    daily = daily.with_columns(
        gap.alias("gap"),
        (gap.abs() / pl.max_horizontal(pl.col("advertiser_conversions"), 1)).alias("relative"),
    ).with_columns(
        ((pl.col("gap").abs() >= cfg.min_difference) & (pl.col("relative") > cfg.tolerance)).alias(
            "mismatched"
        )
    )
    groups = (
        daily.group_by("partner_id", "campaign_id")
        .agg(
            pl.len().alias("days"),
            pl.col("mismatched").sum().alias("mismatched_days"),
            pl.col("network_conversions").sum().alias("network"),
            pl.col("advertiser_conversions").sum().alias("advertiser"),
            pl.col("network_conversions").filter("mismatched").sum().alias("network_bad"),
            pl.col("advertiser_conversions").filter("mismatched").sum().alias("advertiser_bad"),
            pl.col("day").filter("mismatched").min().alias("first_day"),
            pl.struct("day", "network_conversions", "advertiser_conversions")
            .filter("mismatched")
            .sort_by(pl.col("gap").filter("mismatched").abs(), descending=True)
            .head(_EXAMPLES)
            .alias("worst_days"),
        )
        .filter(pl.col("mismatched_days") >= cfg.min_days)
    )
    findings = []
    for row in groups.iter_rows(named=True):
        partner, campaign = row["partner_id"], row["campaign_id"]
        net, adv = int(row["network_bad"]), int(row["advertiser_bad"])
        relative = (net - adv) / max(adv, 1)
        direction = "more" if net >= adv else "fewer"
        worst = [
            {"day": d["day"].isoformat(), "network": d["network_conversions"],
             "advertiser": d["advertiser_conversions"]}
            for d in row["worst_days"]
        ]  # fmt: skip
        findings.append(
            Finding(
                kind=CONVERSION_MISMATCH,
                partner_id=partner,
                campaign_id=campaign,
                severity=round(min(1.0, 0.2 + abs(relative)), 3),
                summary=(
                    f"on {row['mismatched_days']} of {row['days']} days the network reports "
                    f"{net} conversions for {_where(partner, campaign)} and the advertiser "
                    f"{adv} ({_pct(abs(relative))} {direction}; tolerance {_pct(cfg.tolerance)})"
                ),
                evidence={
                    "days": int(row["days"]),
                    "mismatched_days": int(row["mismatched_days"]),
                    "network_on_mismatched_days": net,
                    "advertiser_on_mismatched_days": adv,
                    "network_total": int(row["network"]),
                    "advertiser_total": int(row["advertiser"]),
                    "relative_gap": round(relative, 4),
                    "worst_days": worst,
                },
                key=_key(CONVERSION_MISMATCH, partner, campaign),
            )
        )
    return findings, []


# --- spikes and drops ---------------------------------------------------------------------


def complete_days(*frames: pl.DataFrame) -> tuple[date, date] | None:
    """The first and last whole UTC days the input covers (a partial edge day is left out)."""
    ats = [f.get_column("at") for f in frames if not f.is_empty()]
    if not ats:
        return None
    first: datetime = min(a.min() for a in ats)  # type: ignore[type-var, assignment]
    last: datetime = max(a.max() for a in ats)  # type: ignore[type-var, assignment]
    start, end = first.date(), last.date()
    if first.hour >= 1:  # data starting after 01:00 misses part of its first day
        start = date.fromordinal(start.toordinal() + 1)
    if last.hour < 23:
        end = date.fromordinal(end.toordinal() - 1)
    return (start, end) if start <= end else None


def daily_volume(clicks: pl.DataFrame, conversions: pl.DataFrame, config: AnomalyConfig) -> (
    pl.DataFrame | None
):  # fmt: skip
    """Per partner, metric and whole day: the count, the expected count and the robust z."""
    cfg = config.volume
    span = complete_days(clicks, conversions)
    if span is None:
        return None
    start, end = span
    frames = [
        f.filter(pl.col("at").dt.date().is_between(start, end))
        .group_by("partner_id", pl.col("at").dt.date().alias("day"))
        .len()
        .with_columns(pl.lit(metric).alias("metric"))
        for metric, f in (("click", clicks), ("conversion", conversions))
    ]
    counts = pl.concat(frames, how="vertical_relaxed")
    if counts.is_empty():
        return None
    days = pl.DataFrame({"day": pl.date_range(start, end, "1d", eager=True)})
    # Every day from a partner's first day on, zero where it sent nothing.
    spans = counts.group_by("partner_id", "metric").agg(pl.col("day").min().alias("since"))
    grid = (
        spans.join(days, how="cross")
        .filter(pl.col("day") >= pl.col("since"))
        .join(counts, on=["partner_id", "metric", "day"], how="left")
        .with_columns(
            pl.col("len").fill_null(0).cast(pl.Float64).alias("count"),
            pl.col("day").dt.weekday().alias("weekday"),
        )
        .with_columns(pl.len().over("partner_id", "metric").alias("history"))
        .filter(pl.col("history") >= cfg.min_history_days)
    )
    if grid.is_empty():
        return None
    # Weekly profile from the whole population (robust to any one partner's anomaly): the
    # median over partners of their weekday median relative to their overall median.
    level = pl.col("count").median().over("partner_id", "metric")
    weekday_level = pl.col("count").median().over("partner_id", "metric", "weekday")
    profile = (
        grid.with_columns((weekday_level / level).alias("ratio"))
        .filter(pl.col("ratio").is_finite())
        .group_by("metric", "weekday")
        .agg(pl.col("ratio").median().alias("season"))
    )
    grid = grid.join(profile, on=["metric", "weekday"], how="left").with_columns(
        pl.col("season").fill_null(1.0).clip(0.05)
    )
    deseasoned = pl.col("count") / pl.col("season")
    grid = grid.with_columns(
        (deseasoned.median().over("partner_id", "metric") * pl.col("season")).alias("expected")
    )
    # Day-to-day noise grows with the level (quieter weekends vary less): the spread is
    # relative, and never below Poisson noise.
    residual = pl.col("count") - pl.col("expected")
    relative = residual / pl.col("expected").clip(1.0)
    grid = grid.with_columns(
        (_MAD * relative.abs().median().over("partner_id", "metric")).alias("spread"),
        deseasoned.median().over("partner_id", "metric").alias("level"),
    ).with_columns(
        (
            residual
            / pl.max_horizontal(
                pl.col("spread") * pl.col("expected"), pl.col("expected").sqrt(), pl.lit(1.0)
            )
        ).alias("z")
    )
    return grid


def volume(
    clicks: pl.DataFrame, conversions: pl.DataFrame, config: AnomalyConfig
) -> tuple[list[Finding], list[str]]:
    """Days a partner's clicks or conversions were far above or below its own usual level."""
    cfg = config.volume
    grid = daily_volume(clicks, conversions, config)
    if grid is None:
        return [], [
            f"spikes and drops: need at least {cfg.min_history_days} whole days of a "
            "partner's history"
        ]
    judged = pl.col("level") >= cfg.min_expected
    spike = (
        judged
        & (pl.col("z") >= cfg.z_threshold)
        & (pl.col("count") >= cfg.min_ratio * pl.col("expected"))
    )
    drop = (
        judged
        & (pl.col("z") <= -cfg.z_threshold)
        & (pl.col("count") <= cfg.drop_ratio * pl.col("expected"))
    )
    flagged = (
        grid.with_columns(
            pl.when(spike).then(pl.lit("spike")).when(drop).then(pl.lit("drop")).alias("change")
        )
        .filter(pl.col("change").is_not_null())
        .sort("partner_id", "metric", "change", "day")
    )
    # Consecutive flagged days of one partner, metric and direction are one anomaly.
    gap = (pl.col("day") - pl.col("day").shift(1)).dt.total_days()
    flagged = flagged.with_columns(
        (gap != 1).fill_null(True).cum_sum().over("partner_id", "metric", "change").alias("run")
    )
    runs = flagged.group_by("partner_id", "metric", "change", "run").agg(
        pl.col("day").min().alias("first_day"),
        pl.col("day").max().alias("last_day"),
        pl.len().alias("days"),
        pl.col("count").sum().alias("observed"),
        pl.col("expected").sum().alias("expected"),
        pl.col("z").abs().max().alias("z"),
        pl.col("history").first(),
    )
    findings = []
    for row in runs.sort("partner_id", "metric", "first_day").iter_rows(named=True):
        kind = f"{row['metric']}_{row['change']}"
        observed, expected = float(row["observed"]), float(row["expected"])
        ratio = observed / expected if expected else math.inf
        first, last = row["first_day"], row["last_day"]
        when = first.isoformat() if first == last else f"{first} to {last}"
        findings.append(
            Finding(
                kind=kind,
                partner_id=row["partner_id"],
                campaign_id=None,
                severity=round(min(1.0, 0.3 + abs(math.log(max(ratio, 1e-3))) / 4), 3),
                summary=(
                    f"partner {row['partner_id']}: {observed:.0f} {row['metric']}s on {when} "
                    f"where its usual level for those weekdays is {expected:.0f} "
                    f"({ratio:.2f}x, robust z {row['z']:.1f} over {row['history']} days)"
                ),
                evidence={
                    "metric": row["metric"],
                    "first_day": first.isoformat(),
                    "last_day": last.isoformat(),
                    "days": int(row["days"]),
                    "observed": int(observed),
                    "expected": round(expected, 1),
                    "ratio": round(ratio, 3),
                    "z": round(float(row["z"]), 2),
                    "history_days": int(row["history"]),
                },
                key=_key(kind, row["partner_id"], None, first.isoformat()),
            )
        )
    return findings, []


# --- click-to-conversion lag --------------------------------------------------------------


def conversion_lags(conversions: pl.DataFrame, clicks: pl.DataFrame) -> pl.DataFrame:
    """Conversions with the seconds since their click (its time given, or found by click id)."""
    frame = conversions.select("line", "at", "partner_id", "campaign_id", "click_id", "click_at")
    if frame.get_column("click_at").null_count() and not clicks.is_empty():
        by_id = (
            clicks.filter(pl.col("click_id").is_not_null())
            .group_by("click_id")
            .agg(pl.col("at").min().alias("clicked"))
        )
        frame = frame.join(by_id, on="click_id", how="left").with_columns(
            pl.coalesce("click_at", "clicked").alias("click_at")
        )
    return frame.filter(pl.col("click_at").is_not_null()).with_columns(
        (pl.col("at") - pl.col("click_at")).dt.total_milliseconds().truediv(1000).alias("lag")
    )


def lag(
    conversions: pl.DataFrame, clicks: pl.DataFrame, config: AnomalyConfig
) -> tuple[list[Finding], list[str]]:
    """Implausibly fast conversions (click injection), and lags unlike the campaign's peers."""
    cfg = config.lag
    lags = conversion_lags(conversions, clicks)
    if lags.is_empty():
        return [], ["click-to-conversion lag: no conversion with a known click time"]
    short = pl.col("lag") < cfg.min_seconds
    per = lags.group_by("partner_id", "campaign_id").agg(
        pl.len().alias("n"),
        short.sum().alias("short"),
        pl.col("lag").median().alias("median_lag"),
        # Lags unlike the peers' are judged on plausible ones: too-fast ones are reported above.
        (~short).sum().alias("plausible"),
        pl.col("lag").filter(~short).clip(1.0).log().median().alias("log_median"),
        pl.col("line").filter(short).sort().head(_EXAMPLES).alias("examples"),
    )
    judged = per.filter(pl.col("n") >= cfg.min_conversions)
    findings: list[Finding] = []
    fast = judged.with_columns((pl.col("short") / pl.col("n")).alias("share")).filter(
        pl.col("share") >= cfg.short_share
    )
    for row in fast.iter_rows(named=True):
        partner, campaign, share = row["partner_id"], row["campaign_id"], float(row["share"])
        findings.append(
            Finding(
                kind=SHORT_LAG,
                partner_id=partner,
                campaign_id=campaign,
                severity=round(min(1.0, 0.3 + share), 3),
                summary=(
                    f"{row['short']} of {row['n']} conversions ({_pct(share)}) from "
                    f"{_where(partner, campaign)} came less than {cfg.min_seconds:g} s after "
                    f"their click (median lag {_seconds(row['median_lag'])}): click injection"
                ),
                evidence={
                    "conversions": int(row["n"]),
                    "short": int(row["short"]),
                    "share": round(share, 4),
                    "min_seconds": cfg.min_seconds,
                    "median_lag_seconds": round(float(row["median_lag"]), 1),
                    "example_lines": list(row["examples"]),
                },
                key=_key(SHORT_LAG, partner, campaign),
            )
        )
    # Peers: the other partners of the campaign; their centre and spread are the median and
    # MAD of the partners' median log-lags, so one odd partner cannot move them.
    peers = (
        judged.filter(pl.col("plausible") >= cfg.min_conversions)
        .with_columns(
            pl.col("log_median").median().over("campaign_id").alias("peer_log"),
            pl.len().over("campaign_id").alias("peers"),
        )
        .with_columns(
            (_MAD * (pl.col("log_median") - pl.col("peer_log")).abs().median().over("campaign_id"))
            .clip(0.1)
            .alias("peer_spread")
        )
    )
    shift = math.log(cfg.shift_factor)
    odd = peers.with_columns(
        ((pl.col("log_median") - pl.col("peer_log")) / pl.col("peer_spread")).alias("z"),
        (pl.col("log_median") - pl.col("peer_log")).alias("log_ratio"),
    ).filter(
        (pl.col("peers") >= 3)
        & (pl.col("z").abs() >= cfg.z_threshold)
        & (pl.col("log_ratio").abs() >= shift)
    )
    for row in odd.iter_rows(named=True):
        partner, campaign = row["partner_id"], row["campaign_id"]
        ratio = math.exp(row["log_ratio"])
        peer_lag = math.exp(row["peer_log"])
        direction = "slower" if ratio > 1 else "faster"
        findings.append(
            Finding(
                kind=LAG_DISTRIBUTION,
                partner_id=partner,
                campaign_id=campaign,
                severity=round(min(1.0, 0.3 + abs(row["log_ratio"]) / 5), 3),
                summary=(
                    f"conversions from {_where(partner, campaign)} come a median "
                    f"{_seconds(row['median_lag'])} after the click, {max(ratio, 1 / ratio):.1f}x "
                    f"{direction} than the {row['peers']} partners of the campaign "
                    f"(median {_seconds(peer_lag)}; robust z {row['z']:.1f})"
                ),
                evidence={
                    "conversions": int(row["n"]),
                    "median_lag_seconds": round(float(row["median_lag"]), 1),
                    "peer_median_lag_seconds": round(peer_lag, 1),
                    "ratio": round(ratio, 3),
                    "z": round(float(row["z"]), 2),
                    "peers": int(row["peers"]),
                },
                key=_key(LAG_DISTRIBUTION, partner, campaign),
            )
        )
    return findings, []


# --- conversion-rate outliers -------------------------------------------------------------


def conversion_rate(
    clicks: pl.DataFrame, conversions: pl.DataFrame, config: AnomalyConfig
) -> tuple[list[Finding], list[str]]:
    """Partners whose conversion rate on a campaign is far from its other partners'."""
    cfg = config.conversion_rate
    if clicks.is_empty():
        return [], ["conversion rate: no click events in the input"]
    keys = ["partner_id", "campaign_id"]
    per = (
        clicks.group_by(keys)
        .len("clicks")
        .join(conversions.group_by(keys).len("conversions"), on=keys, how="left", nulls_equal=True)
        .with_columns(pl.col("conversions").fill_null(0))
        .filter(pl.col("clicks") >= cfg.min_clicks)
        .with_columns(
            (pl.col("conversions") / pl.col("clicks")).alias("rate"),
            # The peers' rate: every other partner of the campaign pooled (leave one out), so
            # a partner never dilutes its own benchmark and rare conversions still give one.
            (
                (pl.col("conversions").sum().over("campaign_id") - pl.col("conversions"))
                / (pl.col("clicks").sum().over("campaign_id") - pl.col("clicks"))
            ).alias("peer_rate"),
            (pl.len().over("campaign_id") - 1).alias("peers"),
        )
        .filter((pl.col("peers") >= cfg.min_partners) & (pl.col("peer_rate") > 0))
    )
    expected = pl.col("clicks") * pl.col("peer_rate")
    per = per.with_columns(
        expected.alias("expected"),
        (pl.col("rate") / pl.col("peer_rate")).alias("ratio"),
        (
            (pl.col("conversions") - expected)
            / (expected * (1 - pl.col("peer_rate"))).clip(1.0).sqrt()
        ).alias("z"),
    )
    odd = per.filter(
        ((pl.col("ratio") >= cfg.high_ratio) & (pl.col("z") >= cfg.z_threshold))
        | ((pl.col("ratio") <= cfg.low_ratio) & (pl.col("z") <= -cfg.z_threshold))
    )
    findings = []
    for row in odd.iter_rows(named=True):
        partner, campaign, ratio = row["partner_id"], row["campaign_id"], float(row["ratio"])
        direction = "high" if ratio > 1 else "low"
        findings.append(
            Finding(
                kind=CONVERSION_RATE,
                partner_id=partner,
                campaign_id=campaign,
                severity=round(min(1.0, 0.3 + abs(math.log(max(ratio, 1e-3))) / 4), 3),
                summary=(
                    f"{_where(partner, campaign)} converts {_pct(row['rate'])} of "
                    f"{row['clicks']} clicks where its {row['peers']} peer partners together "
                    f"convert {_pct(row['peer_rate'])} ({ratio:.2f}x, z {row['z']:.1f}): "
                    f"{direction}"
                ),
                evidence={
                    "direction": direction,
                    "clicks": int(row["clicks"]),
                    "conversions": int(row["conversions"]),
                    "rate": round(float(row["rate"]), 6),
                    "peer_rate": round(float(row["peer_rate"]), 6),
                    "expected_conversions": round(float(row["expected"]), 1),
                    "ratio": round(ratio, 3),
                    "z": round(float(row["z"]), 2),
                    "peers": int(row["peers"]),
                },
                key=_key(CONVERSION_RATE, partner, campaign),
            )
        )
    return findings, []
