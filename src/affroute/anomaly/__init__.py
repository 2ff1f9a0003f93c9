"""Attribution anomalies: event input, the five detectors (vectorised, Polars) and evaluation."""
