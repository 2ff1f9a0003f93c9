"""The five anomaly detectors written the plain pandas way (group-by, transform, shift).

The peer of ``affroute.anomaly.detect`` in ``bench/anomalies.py``: the same rules and
thresholds, so both must report the same anomalies (compared by their keys).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from affroute.config import AnomalyConfig

MAD = 1.4826


def key(kind: str, partner: object, campaign: object, since: str = "") -> str:
    def text(value: object) -> str:
        return (
            "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
        )

    return f"{kind}|{text(partner)}|{text(campaign)}|{since}"


def scan_keys(events: pd.DataFrame, counts: pd.DataFrame, config: AnomalyConfig) -> set[str]:
    clicks = events[events["event"] == "click"]
    leads = events[events["event"] == "lead"]
    conversions = events[events["event"] == "conversion"]
    found: set[str] = set()
    found |= duplicate_leads(leads, config)
    found |= conversion_mismatch(counts, config)
    found |= volume(clicks, conversions, config)
    found |= lag(conversions, config)
    found |= conversion_rate(clicks, conversions, config)
    return found


def duplicate_leads(leads: pd.DataFrame, config: AnomalyConfig) -> set[str]:
    cfg = config.duplicate_leads
    if leads.empty:
        return set()
    frame = leads[
        ["line", "at", "partner_id", "campaign_id", "contact_hash", "ip", "device"]
    ].copy()
    frame["duplicate"] = False
    frame["first_partner"] = None
    keys = [["contact_hash"]] + ([["ip", "device"]] if cfg.use_ip_device else [])
    for columns in keys:
        frame = frame.sort_values([*columns, "at", "line"], na_position="first", kind="stable")
        complete = frame[columns].notna().all(axis=1)
        previous = frame[columns].shift(1)
        same = (frame[columns] == previous).all(axis=1) & previous.notna().all(axis=1)
        gap = frame["at"] - frame["at"].shift(1)
        hit = complete & same & (gap <= pd.Timedelta(cfg.window)) & ~frame["duplicate"]
        frame.loc[hit, "first_partner"] = frame["partner_id"].shift(1)[hit]
        frame["duplicate"] = frame["duplicate"] | hit
    frame["across"] = frame["duplicate"] & (frame["first_partner"] != frame["partner_id"])
    groups = frame.groupby(["partner_id", "campaign_id"], dropna=False).agg(
        leads=("line", "size"), duplicates=("duplicate", "sum")
    )
    groups["share"] = groups["duplicates"] / groups["leads"]
    flagged = groups[(groups["duplicates"] >= cfg.min_count) & (groups["share"] >= cfg.min_share)]
    return {key("duplicate_leads", p, c) for p, c in flagged.index}


def conversion_mismatch(counts: pd.DataFrame, config: AnomalyConfig) -> set[str]:
    cfg = config.conversion_mismatch
    if counts.empty:
        return set()
    daily = counts.groupby(["day", "partner_id", "campaign_id"], dropna=False, as_index=False)[
        ["network_conversions", "advertiser_conversions"]
    ].sum()
    gap = daily["network_conversions"] - daily["advertiser_conversions"]
    relative = gap.abs() / daily["advertiser_conversions"].clip(lower=1)
    daily["mismatched"] = (gap.abs() >= cfg.min_difference) & (relative > cfg.tolerance)
    per = daily.groupby(["partner_id", "campaign_id"], dropna=False)["mismatched"].sum()
    return {key("conversion_mismatch", p, c) for (p, c), n in per.items() if n >= cfg.min_days}


def volume(clicks: pd.DataFrame, conversions: pd.DataFrame, config: AnomalyConfig) -> set[str]:
    cfg = config.volume
    stamps = pd.concat([clicks["at"], conversions["at"]])
    if stamps.empty:
        return set()
    first, last = stamps.min(), stamps.max()
    start, end = first.normalize(), last.normalize()
    if first.hour >= 1:
        start += pd.Timedelta(days=1)
    if last.hour < 23:
        end -= pd.Timedelta(days=1)
    if start > end:
        return set()
    parts = []
    for metric, frame in (("click", clicks), ("conversion", conversions)):
        day = frame["at"].dt.normalize()
        inside = frame[(day >= start) & (day <= end)]
        grouped = inside.groupby(["partner_id", inside["at"].dt.normalize().rename("day")]).size()
        part = grouped.rename("n").reset_index()
        part["metric"] = metric
        parts.append(part)
    counts = pd.concat(parts, ignore_index=True)
    if counts.empty:
        return set()
    spans = counts.groupby(["partner_id", "metric"], as_index=False)["day"].min()
    spans = spans.rename(columns={"day": "since"})
    days = pd.DataFrame({"day": pd.date_range(start, end, freq="D")})
    grid = spans.merge(days, how="cross")
    grid = grid[grid["day"] >= grid["since"]]
    grid = grid.merge(counts, on=["partner_id", "metric", "day"], how="left")
    grid["count"] = grid["n"].fillna(0).astype(float)
    grid["weekday"] = grid["day"].dt.weekday
    by = ["partner_id", "metric"]
    grid["history"] = grid.groupby(by)["count"].transform("size")
    grid = grid[grid["history"] >= cfg.min_history_days].copy()
    if grid.empty:
        return set()
    level = grid.groupby(by)["count"].transform("median")
    weekday_level = grid.groupby([*by, "weekday"])["count"].transform("median")
    ratio = (weekday_level / level).replace([np.inf, -np.inf], np.nan)
    grid["ratio"] = ratio
    profile = (
        grid[np.isfinite(grid["ratio"])]
        .groupby(["metric", "weekday"], as_index=False)["ratio"]
        .median()
        .rename(columns={"ratio": "season"})
    )
    grid = grid.merge(profile, on=["metric", "weekday"], how="left")
    grid["season"] = grid["season"].fillna(1.0).clip(lower=0.05)
    grid["deseasoned"] = grid["count"] / grid["season"]
    grid["level"] = grid.groupby(by)["deseasoned"].transform("median")
    grid["expected"] = grid["level"] * grid["season"]
    residual = grid["count"] - grid["expected"]
    grid["relative_abs"] = (residual / grid["expected"].clip(lower=1.0)).abs()
    spread = MAD * grid.groupby(by)["relative_abs"].transform("median")
    scale = np.maximum.reduce(
        [(spread * grid["expected"]).to_numpy(), np.sqrt(grid["expected"]).to_numpy(),
         np.ones(len(grid))]
    )  # fmt: skip
    grid["z"] = residual / scale
    judged = grid["level"] >= cfg.min_expected
    spike = (
        judged
        & (grid["z"] >= cfg.z_threshold)
        & (grid["count"] >= cfg.min_ratio * grid["expected"])
    )
    drop = (
        judged
        & (grid["z"] <= -cfg.z_threshold)
        & (grid["count"] <= cfg.drop_ratio * grid["expected"])
    )
    grid["change"] = np.where(spike, "spike", np.where(drop, "drop", ""))
    flagged = grid[grid["change"] != ""].sort_values(["partner_id", "metric", "change", "day"])
    gap = flagged.groupby(["partner_id", "metric", "change"])["day"].diff().dt.days
    flagged = flagged.assign(new_run=(gap != 1))
    flagged["run"] = flagged.groupby(["partner_id", "metric", "change"])["new_run"].cumsum()
    runs = flagged.groupby(["partner_id", "metric", "change", "run"], as_index=False)["day"].min()
    return {
        key(f"{r.metric}_{r.change}", r.partner_id, None, r.day.date().isoformat())
        for r in runs.itertuples()
    }


def lag(conversions: pd.DataFrame, config: AnomalyConfig) -> set[str]:
    cfg = config.lag
    frame = conversions[conversions["click_at"].notna()].copy()
    if frame.empty:
        return set()
    millis = (frame["at"] - frame["click_at"]).to_numpy().astype("timedelta64[ms]")
    frame["lag"] = millis.astype(np.int64) / 1000
    frame["short"] = frame["lag"] < cfg.min_seconds
    frame["log_lag"] = np.where(frame["short"], np.nan, np.log(frame["lag"].clip(lower=1.0)))
    keys = ["partner_id", "campaign_id"]
    per = frame.groupby(keys, dropna=False).agg(
        n=("lag", "size"),
        short=("short", "sum"),
        log_median=("log_lag", "median"),
        plausible=("log_lag", "count"),
    )
    per = per.reset_index()
    judged = per[per["n"] >= cfg.min_conversions].copy()
    found = {
        key("short_click_to_conversion", r.partner_id, r.campaign_id)
        for r in judged.itertuples()
        if r.short / r.n >= cfg.short_share
    }
    peers = judged[judged["plausible"] >= cfg.min_conversions].copy()
    if peers.empty:
        return found
    by_campaign = peers.groupby("campaign_id", dropna=False)["log_median"]
    peers["peer_log"] = by_campaign.transform("median")
    peers["peers"] = by_campaign.transform("size")
    peers["deviation"] = (peers["log_median"] - peers["peer_log"]).abs()
    spread = peers.groupby("campaign_id", dropna=False)["deviation"].transform("median")
    peers["spread"] = (MAD * spread).clip(lower=0.1)
    log_ratio = peers["log_median"] - peers["peer_log"]
    z = log_ratio / peers["spread"]
    odd = peers[
        (peers["peers"] >= 3)
        & (z.abs() >= cfg.z_threshold)
        & (log_ratio.abs() >= math.log(cfg.shift_factor))
    ]
    return found | {key("lag_distribution", r.partner_id, r.campaign_id) for r in odd.itertuples()}


def conversion_rate(clicks: pd.DataFrame, conversions: pd.DataFrame, config: AnomalyConfig) -> (
    set[str]
):  # fmt: skip
    cfg = config.conversion_rate
    if clicks.empty:
        return set()
    keys = ["partner_id", "campaign_id"]
    per = clicks.groupby(keys, dropna=False).size().rename("clicks").reset_index()
    made = conversions.groupby(keys, dropna=False).size().rename("conversions").reset_index()
    per = per.merge(made, on=keys, how="left")
    per["conversions"] = per["conversions"].fillna(0)
    per = per[per["clicks"] >= cfg.min_clicks].copy()
    campaign = per.groupby("campaign_id", dropna=False)
    peer_conversions = campaign["conversions"].transform("sum") - per["conversions"]
    peer_clicks = campaign["clicks"].transform("sum") - per["clicks"]
    per["peer_rate"] = peer_conversions / peer_clicks
    per["peers"] = campaign["clicks"].transform("size") - 1
    per = per[(per["peers"] >= cfg.min_partners) & (per["peer_rate"] > 0)]
    expected = per["clicks"] * per["peer_rate"]
    ratio = (per["conversions"] / per["clicks"]) / per["peer_rate"]
    z = (per["conversions"] - expected) / np.sqrt(
        (expected * (1 - per["peer_rate"])).clip(lower=1.0)
    )
    odd = per[
        ((ratio >= cfg.high_ratio) & (z >= cfg.z_threshold))
        | ((ratio <= cfg.low_ratio) & (z <= -cfg.z_threshold))
    ]
    return {key("conversion_rate_outlier", r.partner_id, r.campaign_id) for r in odd.itertuples()}
