"""Routing that learns from outcomes: outcome records and the closed-loop tuner.

`outcomes` and `tune` are pure; `records` (CSV/JSONL files) is the edge (the command is
`affroute.cli.tune`).
"""
