"""Compile the ordered rules once into a single Python function.

Each condition becomes an inline comparison on a ``Facts`` attribute and each action an
assignment on the ``RuleState``; constants (values, frozensets, compiled regexes) are
bound by generated names, so no user text is ever spliced into code. Field names come
from the validated field table. Evaluating 200 rules is then one function call with no
per-ticket interpretation or name lookup.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import ahocorasick

from affroute.config import FIELDS, Condition, FieldKind, Group, Op, Rule, SkillRequirement
from affroute.domain import PRIORITY_RANK, Priority
from affroute.engine.facts import Facts
from affroute.engine.literals import required_literals

# Below this many distinct substrings on one text field, plain `in` tests are cheaper
# than a scan of the whole text.
MIN_NEEDLES_FOR_SCAN = 8
# Fields that hold rule state: conditions on them see what earlier rules decided.
_STATE_FIELDS = frozenset({"priority", "team"})


@dataclass(slots=True)
class RuleState:
    """What the rules have decided so far for one ticket."""

    priority: Priority
    team: str | None = None
    tags: list[str] = field(default_factory=list)
    skills: list[SkillRequirement] = field(default_factory=list)
    sla_policy: str | None = None
    prefer_account_manager: bool = False
    matched: list[int] = field(default_factory=list)  # indexes into the rule list, in order
    team_rule: int | None = None  # the rule that last set the team


RuleProgram = Callable[[Facts, RuleState], None]


@dataclass(frozen=True, slots=True)
class CompiledRules:
    rules: tuple[Rule, ...]
    run: RuleProgram
    source: str  # the generated code, for debugging and `--explain`

    def apply(self, facts: Facts, state: RuleState) -> RuleState:
        """Run every rule in order on the facts, updating and returning the state."""
        self.run(facts, state)
        return state


def _conditions(items: Sequence[Condition | Group]) -> Iterator[Condition]:
    for item in items:
        if isinstance(item, Condition):
            yield item
        else:
            yield from _conditions(item.all)
            yield from _conditions(item.any)


def _text_needles(cond: Condition) -> tuple[str, ...]:
    """The substrings a condition on a text field looks for (its own, or its regex's)."""
    if FIELDS[cond.field].kind is not FieldKind.TEXT:
        return ()
    if cond.op in (Op.CONTAINS, Op.NOT_CONTAINS):
        return (cond.value,)
    if cond.op is Op.MATCHES:
        return required_literals(cond.value, lowered=True) or ()
    return ()


class _Emitter:
    """Writes the rule function. Fact attributes are read once into locals; on a text field
    with many substring tests, one Aho-Corasick pass finds every needle present, and each
    test becomes a set lookup."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.names: dict[str, Any] = {"_RANK": PRIORITY_RANK}
        self.used: set[str] = set()
        self.needles: dict[str, dict[str, int]] = {}
        by_field: dict[str, set[str]] = {}
        for rule in rules:
            for cond in _conditions([rule.when]):
                for needle in _text_needles(cond):
                    by_field.setdefault(FIELDS[cond.field].attr, set()).add(needle)
        for attr, needles in by_field.items():
            if len(needles) >= MIN_NEEDLES_FOR_SCAN:
                self.needles[attr] = {n: i for i, n in enumerate(sorted(needles))}
        self.body: list[str] = []

    def const(self, value: Any) -> str:
        name = f"_c{len(self.names)}"
        self.names[name] = value
        return name

    def fact(self, attr: str) -> str:
        self.used.add(attr)
        return f"v_{attr}"

    def has(self, attr: str, needles: Sequence[str]) -> str:
        """A test that the text field holds any of the needles."""
        if attr in self.needles:
            self.used.add(attr)
            ids = [self.needles[attr][n] for n in needles]
            if len(ids) == 1:
                return f"({ids[0]} in found_{attr})"
            return f"(not found_{attr}.isdisjoint({self.const(frozenset(ids))}))"
        x = self.fact(attr)
        return "(" + " or ".join(f"{self.const(n)} in {x}" for n in needles) + ")"

    def condition(self, cond: Condition) -> str:
        spec = FIELDS[cond.field]
        x = f"s.{spec.attr}" if cond.field in _STATE_FIELDS else self.fact(spec.attr)
        op, value = cond.op, cond.value
        if op is Op.IS_SET or op is Op.NOT_SET:
            test = f"{x} is not None" if spec.kind is FieldKind.NUMBER else f"bool({x})"
            return f"({test})" if op is Op.IS_SET else f"(not ({test}))"
        if spec.kind is FieldKind.BOOL:
            return f"({x} is {'not ' if op is Op.NE else ''}{self.const(value)})"
        if op is Op.EQ:
            return f"({x} == {self.const(value)})"
        if op is Op.NE:
            return f"({x} != {self.const(value)})"
        if op is Op.IN:
            return f"({x} in {self.const(value)})"
        if op is Op.NOT_IN:
            return f"({x} not in {self.const(value)})"
        if op in (Op.LT, Op.LE, Op.GT, Op.GE):
            return f"({x} is not None and {x} {op.value} {self.const(value)})"
        if op is Op.BETWEEN:
            low, high = value
            return f"({x} is not None and {self.const(low)} <= {x} <= {self.const(high)})"
        if op is Op.MATCHES:
            lowered = spec.kind is FieldKind.TEXT
            search = self.const(re.compile(value, re.IGNORECASE if lowered else 0).search)
            literals = required_literals(value, lowered=lowered)
            if literals:  # a substring test rules out most texts before the regex runs
                pre = self.has(spec.attr, literals) if lowered else self._any_in(x, literals)
                return f"({x} is not None and {pre} and {search}({x}) is not None)"
            return f"({x} is not None and {search}({x}) is not None)"
        # contains / not_contains: substring of text and strings, element of lists.
        if spec.kind is FieldKind.TEXT:
            found = self.has(spec.attr, (value,))
        elif spec.kind is FieldKind.STRING:
            found = f"({x} is not None and {self.const(value)} in {x})"
        else:
            found = f"({self.const(value)} in {x})"
        return found if op is Op.CONTAINS else f"(not {found})"

    def _any_in(self, x: str, needles: Sequence[str]) -> str:
        return "(" + " or ".join(f"{self.const(n)} in {x}" for n in needles) + ")"

    def group(self, group: Group) -> str:
        parts = [self.item(item) for item in group.all]
        if group.any:
            parts.append("(" + " or ".join(self.item(item) for item in group.any) + ")")
        return "(" + " and ".join(parts) + ")" if parts else "True"

    def item(self, item: Condition | Group) -> str:
        return self.condition(item) if isinstance(item, Condition) else self.group(item)

    def rule(self, index: int, rule: Rule) -> None:
        act = rule.then
        body = [f"matched({index})"]
        if act.priority is not None:
            body.append(f"s.priority = {self.const(act.priority)}")
        if act.priority_floor is not None:
            floor = self.const(act.priority_floor)
            body.append(f"if _RANK[s.priority] > {PRIORITY_RANK[act.priority_floor]}:")
            body.append(f"    s.priority = {floor}")
        if act.team is not None:
            body.append(f"s.team = {self.const(act.team)}")
            body.append(f"s.team_rule = {index}")
        if act.tags:
            body.append(f"s.tags.extend({self.const(act.tags)})")
        if act.skills:
            body.append(f"s.skills.extend({self.const(act.skills)})")
        if act.sla_policy is not None:
            body.append(f"s.sla_policy = {self.const(act.sla_policy)}")
        if act.prefer_account_manager:
            body.append("s.prefer_account_manager = True")
        if act.stop:
            body.append("return")
        self.body.append(f"    if {self.group(rule.when)}:")
        self.body.extend(f"        {line}" for line in body)

    def source(self) -> str:
        head = ["def _rules(f, s):", "    matched = s.matched.append"]
        head += [f"    v_{attr} = f.{attr}" for attr in sorted(self.used)]
        for attr, needles in self.needles.items():
            if attr in self.used:
                automaton = ahocorasick.Automaton()
                for needle, ident in needles.items():
                    automaton.add_word(needle, ident)
                automaton.make_automaton()
                scan = self.const(automaton.iter)
                head.append(f"    found_{attr} = {{i for _, i in {scan}(v_{attr})}}")
        return "\n".join([*head, *self.body, "    return"])


def compile_rules(rules: Sequence[Rule]) -> CompiledRules:
    """Generate and compile one function that applies the rules in order."""
    emitter = _Emitter(rules)
    for index, rule in enumerate(rules):
        emitter.rule(index, rule)
    source = emitter.source()
    namespace: dict[str, Any] = dict(emitter.names)
    exec(
        compile(source, "<affroute-rules>", "exec"), namespace
    )  # the code is generated above from validated names only
    return CompiledRules(tuple(rules), cast(RuleProgram, namespace["_rules"]), source)
