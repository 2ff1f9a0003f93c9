"""Required literals of a regular expression: a cheap ``in`` test that rules out most texts
before the regex engine runs.

``re.search`` cannot skip ahead for patterns that start with ``\\b``, a group or an
alternation, so on ticket text it tries every position. But every match of
``\\b(gdpr|ftc)\\b`` contains "gdpr" or "ftc"; if the text contains neither, the search
cannot match and is skipped. The literals are read from CPython's own parse of the
pattern; anything not understood yields no prefilter, never a wrong one.
"""

from __future__ import annotations

import re
from typing import Any

try:  # CPython's regex parser; private, so every use below is guarded.
    from re import _constants as _c  # type: ignore[attr-defined]
    from re import _parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - other Pythons simply get no prefilter
    _parser = None

MIN_USEFUL = 2  # a one-character literal rules out too little to pay for itself


def required_literals(pattern: str, *, lowered: bool) -> tuple[str, ...] | None:
    """Strings one of which every match contains, or None if none can be named.

    ``lowered``: the searched text is lower-case and the pattern case-insensitive, so the
    literals are lower-cased too. A case-insensitive pattern on text that is not lowered
    gets no prefilter.
    """
    if _parser is None:
        return None
    try:
        parsed = _parser.parse(pattern)
    except (re.error, RecursionError, TypeError):
        return None
    ignore_case = bool(parsed.state.flags & _c.SRE_FLAG_IGNORECASE)
    if ignore_case and not lowered:
        return None
    found = _of_sequence(list(parsed), ignore_case or lowered)
    if not found or min(len(s) for s in found) < MIN_USEFUL:
        return None
    return tuple(sorted(s.lower() if lowered else s for s in found))


def _of_sequence(items: list[tuple[Any, Any]], folded: bool) -> frozenset[str] | None:
    """The best requirement among the items of a sequence (each one must match)."""
    candidates: list[frozenset[str]] = []
    run: list[str] = []
    for op, arg in items:
        if op is _c.LITERAL:
            run.append(chr(arg))
            continue
        if run:
            candidates.append(frozenset({"".join(run)}))
            run = []
        inner = _of_item(op, arg, folded)
        if inner:
            candidates.append(inner)
    if run:
        candidates.append(frozenset({"".join(run)}))
    if not candidates:
        return None
    return max(candidates, key=lambda s: min(len(x) for x in s))


def _of_item(op: Any, arg: Any, folded: bool) -> frozenset[str] | None:
    if op is _c.SUBPATTERN:
        _group, add_flags, del_flags, sub = arg
        if (add_flags | del_flags) & _c.SRE_FLAG_IGNORECASE and not folded:
            return None
        return _of_sequence(list(sub), folded)
    if op is _c.BRANCH:
        options = [_of_sequence(list(alternative), folded) for alternative in arg[1]]
        if any(not o for o in options):
            return None
        return frozenset().union(*options)  # type: ignore[arg-type]
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
        low, _high, sub = arg
        return _of_sequence(list(sub), folded) if low >= 1 else None
    return None
