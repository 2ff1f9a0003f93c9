"""Compile the ordered rules once into a single Python function.

Each condition becomes an inline comparison on a ``Facts`` attribute and each action an
assignment on the ``RuleState``; constants (values, frozensets, compiled regexes) are
bound by generated names, so no user text is ever spliced into code. Field names come
from the validated field table. Evaluating 200 rules is then one function call with no
per-ticket interpretation or name lookup.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from affroute.config import FIELDS, Condition, FieldKind, Group, Op, Rule, SkillRequirement
from affroute.domain import PRIORITY_RANK, Priority
from affroute.engine.facts import Facts

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


class _Emitter:
    def __init__(self) -> None:
        self.names: dict[str, Any] = {"_RANK": PRIORITY_RANK}
        self.lines: list[str] = ["def _rules(f, s):"]

    def const(self, value: Any) -> str:
        name = f"_c{len(self.names)}"
        self.names[name] = value
        return name

    def condition(self, cond: Condition) -> str:
        spec = FIELDS[cond.field]
        x = f"s.{spec.attr}" if cond.field in _STATE_FIELDS else f"f.{spec.attr}"
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
            flags = re.IGNORECASE if spec.kind is FieldKind.TEXT else 0
            search = self.const(re.compile(value, flags).search)
            return f"({x} is not None and {search}({x}) is not None)"
        # contains / not_contains: substring of text and strings, element of lists.
        found = f"({self.const(value)} in {x})"
        if spec.kind is FieldKind.STRING:
            found = f"({x} is not None and {found[1:-1]})"
        return found if op is Op.CONTAINS else f"(not {found})"

    def group(self, group: Group) -> str:
        parts = [self.item(item) for item in group.all]
        if group.any:
            parts.append("(" + " or ".join(self.item(item) for item in group.any) + ")")
        return "(" + " and ".join(parts) + ")" if parts else "True"

    def item(self, item: Condition | Group) -> str:
        return self.condition(item) if isinstance(item, Condition) else self.group(item)

    def rule(self, index: int, rule: Rule) -> None:
        act = rule.then
        body = [f"s.matched.append({index})"]
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
        self.lines.append(f"    if {self.group(rule.when)}:")
        self.lines.extend(f"        {line}" for line in body)


def compile_rules(rules: Sequence[Rule]) -> CompiledRules:
    """Generate and compile one function that applies the rules in order."""
    emitter = _Emitter()
    for index, rule in enumerate(rules):
        emitter.rule(index, rule)
    emitter.lines.append("    return")
    source = "\n".join(emitter.lines)
    namespace: dict[str, Any] = dict(emitter.names)
    exec(
        compile(source, "<affroute-rules>", "exec"), namespace
    )  # the code is generated above from validated names only
    return CompiledRules(tuple(rules), cast(RuleProgram, namespace["_rules"]), source)
