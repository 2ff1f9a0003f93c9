"""Benchmark: attribution anomaly scan of 10,000,000 events, beside plain pandas.

In one process:

1. a seeded generated log (clicks, leads, conversions, daily network/advertiser counts)
   of about 10,000,000 events with injected anomalies of every kind and their truth;
2. ``affroute.anomaly.detect.scan`` (Polars) on it, timed, and the read of the same events
   from a Parquet file through the validating reader, timed;
3. the same detectors written with pandas group-bys (``bench/anomalies_pandas.py``) on
   the same events, timed; both must report the same anomalies;
4. precision and recall per detector against the truth;
5. the scan of real traffic, TalkingData's 100,000 ad clicks (``channel`` as partner,
   through a column mapping), what it flags, and how the flagged channels' traffic differs.

Targets: scan <= 15 s, >= 3x faster than pandas, same anomalies, precision and recall
>= 0.9 per detector. Each line ends PASS or NOT MET; the exit code is 0 either way.

    .venv/bin/python bench/anomalies.py [--events N] [--seed S] [--talkingdata PATH]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
from rich.console import Console
from rich.table import Table

from affroute.anomaly.detect import conversion_lags, scan
from affroute.anomaly.evaluate import score_detectors
from affroute.anomaly.events import read_file
from affroute.config import load_config
from affroute.synth.events import EventLogSpec, generate_event_log

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.anomalies_pandas import scan_keys  # noqa: E402

TALKINGDATA = Path(
    os.environ.get(
        "AFFROUTE_TALKINGDATA",
        ROOT.parent / "shared" / "data" / "talkingdata_train_sample_100k.csv",
    )
)
# TalkingData's columns in affroute's terms: a row is a click, and a conversion when
# attributed_time is set. No campaign column is mapped: every channel is a peer of all.
TALKINGDATA_MAP = {
    "partner_id": "channel",
    "at": "click_time",
    "converted_at": "attributed_time",
    "ip": "ip",
    "device": "device",
}
out = Console(width=110)


def verdict(ok: bool) -> str:
    return "[green]PASS[/green]" if ok else "[red]NOT MET[/red]"


def to_pandas(frame: pl.DataFrame) -> pd.DataFrame:
    """The same rows as a plain pandas frame (object strings, datetime64 in UTC)."""
    columns = {}
    for name, dtype in frame.schema.items():
        series = frame.get_column(name)
        if isinstance(dtype, pl.Datetime):
            columns[name] = pd.to_datetime(series.dt.replace_time_zone(None).to_numpy())
        elif dtype == pl.Date():
            columns[name] = pd.to_datetime(series.to_numpy())
        elif dtype.is_numeric():
            columns[name] = series.to_numpy()
        else:
            columns[name] = np.array(series.cast(pl.String).to_list(), dtype=object)
    return pd.DataFrame(columns)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--talkingdata", type=Path, default=TALKINGDATA)
    args = parser.parse_args(argv)
    config = load_config(ROOT / "examples" / "affiliate.yaml").anomalies

    spec = EventLogSpec(events=args.events, partners=400, campaigns=30, days=56, per_kind=8)
    started = time.perf_counter()
    log = generate_event_log(spec, np.random.default_rng(args.seed))
    out.print(
        f"generated {log.events.height:,} events and {log.counts.height:,} daily counts "
        f"({len(log.truth)} injected anomalies) in {time.perf_counter() - started:.1f} s"
    )

    timings = []
    for _ in range(2):  # the better of two runs
        gc.collect()
        started = time.perf_counter()
        result = scan(log.events, log.counts, config)
        timings.append(time.perf_counter() - started)
    polars_seconds = min(timings)

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.parquet"
        log.events.drop("line").write_parquet(path)
        gc.collect()
        started = time.perf_counter()
        loaded = read_file(path)
        read_seconds = time.perf_counter() - started
        assert loaded.malformed == 0 and loaded.events.height == log.events.height

    events_pd, counts_pd = to_pandas(log.events), to_pandas(log.counts)
    gc.collect()
    started = time.perf_counter()
    pandas_keys = scan_keys(events_pd, counts_pd, config)
    pandas_seconds = time.perf_counter() - started
    del events_pd, counts_pd

    polars_keys = {f.key for f in result.findings}
    same = polars_keys == pandas_keys
    ratio = pandas_seconds / polars_seconds
    table = Table(title=f"scan of {log.events.height:,} events (best of 2 for Polars)")
    for column in ("implementation", "seconds", "anomalies"):
        table.add_column(column, justify="right" if column != "implementation" else "left")
    table.add_row("affroute (Polars)", f"{polars_seconds:.2f}", str(len(polars_keys)))
    table.add_row("plain pandas group-by", f"{pandas_seconds:.2f}", str(len(pandas_keys)))
    table.add_row("read + validate the events from Parquet", f"{read_seconds:.2f}", "")
    out.print(table)
    out.print(f"scan <= 15 s: {polars_seconds:.2f} s  {verdict(polars_seconds <= 15)}")
    out.print(f"read + scan <= 15 s: {read_seconds + polars_seconds:.2f} s  "
              f"{verdict(read_seconds + polars_seconds <= 15)}")  # fmt: skip
    out.print(f">= 3x faster than pandas: {ratio:.1f}x  {verdict(ratio >= 3)}")
    out.print(f"same anomalies found: {len(polars_keys & pandas_keys)} in common, "
              f"{len(polars_keys - pandas_keys)} only Polars, {len(pandas_keys - polars_keys)} "
              f"only pandas  {verdict(same)}")  # fmt: skip

    scores = score_detectors(
        result.findings, [(t.kind, t.partner_id, t.campaign_id) for t in log.truth]
    )
    quality = Table(title="detectors against the injected truth")
    for column in ("detector", "injected", "reported", "hits", "precision", "recall", ""):
        quality.add_column(column, justify="left" if column == "detector" else "right")
    for s in scores:
        ok = s.precision >= 0.9 and s.recall >= 0.9
        quality.add_row(s.detector, str(s.true), str(s.found), str(s.hits),
                        f"{s.precision:.3f}", f"{s.recall:.3f}", verdict(ok))  # fmt: skip
    out.print(quality)
    talkingdata(args.talkingdata, config)
    return 0


def talkingdata(path: Path, config: object) -> None:
    """Scan real ad traffic and compare the flagged channels' traffic with the rest."""
    from affroute.config import AnomalyConfig

    assert isinstance(config, AnomalyConfig)
    if not path.exists():
        out.print(f"[yellow]TalkingData sample not found at {path}: skipped[/yellow]")
        return
    loaded = read_file(path, mapping=TALKINGDATA_MAP, event="click")
    result = scan(loaded.events, loaded.counts, config)
    out.print(
        f"\nTalkingData: {loaded.rows_read:,} rows, {loaded.malformed} malformed, "
        f"{loaded.events.height:,} events; {len(result.findings)} anomalies"
    )
    for note in result.notes:
        out.print(f"  not run: {note}", highlight=False)
    for finding in result.findings:
        out.print(f"  {finding.kind}: {finding.summary}", markup=False, highlight=False)
    flagged = {f.partner_id for f in result.findings}
    if not flagged:
        return
    events = loaded.events.with_columns(pl.col("partner_id").is_in(list(flagged)).alias("flagged"))
    clicks = events.filter(pl.col("event") == "click")
    lags = conversion_lags(events.filter(pl.col("event") == "conversion"), clicks).with_columns(
        pl.col("partner_id").is_in(list(flagged)).alias("flagged")
    )
    # Traffic shape beyond the rate it was flagged on: how concentrated the clicks are on
    # repeat IPs, and how fast conversions follow their clicks.
    repeat_ip = clicks.with_columns(pl.len().over("ip").alias("ip_clicks"))
    summary = Table(title="flagged channels vs the rest (TalkingData)")
    for column in (
        "traffic",
        "channels",
        "clicks",
        "conversions",
        "conversion rate",
        "95% interval",
        "median lag",
        "clicks from IPs with >= 5 clicks",
    ):
        summary.add_column(column, justify="right")  # fmt: skip
    rates = {}
    for is_flagged in (True, False):
        part = repeat_ip.filter(pl.col("flagged") == is_flagged)
        n = part.height
        k = lags.filter(pl.col("flagged") == is_flagged).height
        rate = k / n if n else 0.0
        half = 1.96 * (rate * (1 - rate) / n) ** 0.5 if n else 0.0
        rates[is_flagged] = (k, n)
        median_lag = lags.filter(pl.col("flagged") == is_flagged).get_column("lag").median()
        repeat = part.filter(pl.col("ip_clicks") >= 5).height / n if n else 0.0
        summary.add_row(
            "flagged" if is_flagged else "rest",
            str(part.get_column("partner_id").n_unique()),
            f"{n:,}",
            str(k),
            f"{100 * rate:.2f}%",
            f"{100 * max(0.0, rate - half):.2f}-{100 * (rate + half):.2f}%",
            f"{median_lag:.0f} s" if median_lag is not None else "-",
            f"{100 * repeat:.1f}%",
        )
    out.print(summary)
    (k1, n1), (k0, n0) = rates[True], rates[False]
    pooled = (k1 + k0) / (n1 + n0)
    z = (k1 / n1 - k0 / n0) / (pooled * (1 - pooled) * (1 / n1 + 1 / n0)) ** 0.5
    out.print(f"two-proportion z of the conversion rates: {z:.1f}  {verdict(abs(z) >= 3)}")


if __name__ == "__main__":
    raise SystemExit(main())
