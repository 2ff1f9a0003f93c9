"""The analytics: metrics as functions of stored history, read from per-ticket facts.

``facts`` keeps one narrow row per ticket in step with the event log; ``metrics`` and
``operational`` answer ``(session, filters) -> dataclass rows``; ``stats`` is the pure
arithmetic; ``prometheus`` and ``report`` present the same numbers to machines and people.
"""
