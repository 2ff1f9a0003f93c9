"""Load a YAML routing configuration, validate it fully and turn it into typed objects.

Every problem is collected (not just the first) and names the file, the rule, agent or
team by name, the field, and what was expected.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import ValidationError

from affroute.config.fields import FIELDS, OPS_BY_KIND, FieldKind, FieldSpec, Op
from affroute.config.model import (
    FACTORS,
    MAPPABLE_FIELDS,
    Actions,
    AnomalyConfig,
    Calendar,
    Condition,
    ConversionMismatchConfig,
    ConversionRateConfig,
    DuplicateLeadsConfig,
    EnrichmentSource,
    EscalationAction,
    EscalationStep,
    Group,
    HelpDeskMapping,
    IntegrationsConfig,
    LagConfig,
    Normalisation,
    RoutingConfig,
    Rule,
    Scale,
    ScoringConfig,
    SkillRequirement,
    SlaPolicy,
    SourceKind,
    SurveyPolicy,
    Tier,
    VolumeConfig,
)
from affroute.config.schema import (
    AnomaliesIn,
    CalendarIn,
    ConditionIn,
    ConfigIn,
    GroupIn,
    HelpDeskIn,
    IntegrationsIn,
    NormalisationIn,
    RuleIn,
    SlaPolicyIn,
    SurveysIn,
)
from affroute.domain import PRIORITY_RANK, Agent, Team, Urgency

ALWAYS_OPEN = "24x7"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# List sections whose items are named in error messages by this key.
_LABEL_KEYS = {
    "rules": "name",
    "agents": "id",
    "teams": "name",
    "calendars": "name",
    "policies": "name",
}
_SPAN = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class ConfigError(Exception):
    """The configuration is invalid; ``issues`` lists every problem found."""

    def __init__(self, source: str, issues: Sequence[ConfigIssue]) -> None:
        self.source = source
        self.issues = tuple(issues)
        lines = "\n".join(f"  {source}: {issue}" for issue in self.issues)
        super().__init__(f"{len(self.issues)} problem(s) in {source}:\n{lines}")


def load_config(path: Path | str) -> RoutingConfig:
    """Read, validate and compile-check the YAML configuration at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            str(path), [ConfigIssue("", f"cannot read file: {exc.strerror}")]
        ) from exc
    return parse_config_text(text, source=str(path))


def parse_config_text(text: str, *, source: str = "<config>") -> RoutingConfig:
    """Parse YAML text into a validated configuration."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(source, [ConfigIssue(where, f"not valid YAML: {problem}")]) from exc
    if not isinstance(data, Mapping):
        raise ConfigError(source, [ConfigIssue("", "expected a mapping at the top level")])
    return parse_config(data, source=source)


def parse_config(data: Mapping[str, Any], *, source: str = "<config>") -> RoutingConfig:
    """Validate a configuration given as plain data (as read from YAML or JSON)."""
    try:
        raw = ConfigIn.model_validate(data)
    except ValidationError as exc:
        issues = [
            ConfigIssue(_location(data, err["loc"]), _pydantic_message(err))
            for err in exc.errors(include_url=False)
        ]
        raise ConfigError(source, issues + _team_references(data)) from None
    builder = _Builder(raw)
    config = builder.build(source)
    if builder.issues:
        raise ConfigError(source, builder.issues)
    return config


def config_version(raw: ConfigIn) -> str:
    """A short content hash: equal configurations share it, any change alters it."""
    # A file without its own anomaly or survey section keeps the version it had before
    # those sections existed.
    defaults = {
        "anomalies": raw.anomalies == AnomaliesIn(),
        "surveys": raw.surveys == SurveysIn(),
        "integrations": raw.integrations == IntegrationsIn(),
    }
    exclude = {name for name, default in defaults.items() if default}
    content = raw.model_dump(mode="json", exclude=exclude)
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _team_references(data: Mapping[str, Any]) -> list[ConfigIssue]:
    """Unknown teams named by agents and rules, read from the raw data.

    The builder checks these on a valid model; this runs when the schema pass failed, so a
    config is refused with both kinds of problem at once.
    """
    raw_teams = data.get("teams")
    teams = {
        str(t["name"])
        for t in (raw_teams if isinstance(raw_teams, list) else [])
        if isinstance(t, Mapping) and "name" in t
    }
    named: list[tuple[tuple[int | str, ...], Any]] = [(("default_team",), data.get("default_team"))]
    for section, path in (("agents", ("teams",)), ("rules", ("then", "team"))):
        items = data.get(section)
        for index, item in enumerate(items if isinstance(items, list) else []):
            value: Any = item
            for key in path:
                value = value.get(key) if isinstance(value, Mapping) else None
            values = value if isinstance(value, list) else [value]
            for position, team in enumerate(values):
                where = (section, index, *path, *((position,) if isinstance(value, list) else ()))
                named.append((where, team))
    return [
        ConfigIssue(_location(data, where), _Builder._unknown("team", str(team), teams))
        for where, team in named
        if isinstance(team, str) and team not in teams
    ]


def _pydantic_message(err: Mapping[str, Any]) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown field"
    if err["type"] == "missing":
        return "required field is missing"
    message = str(err["msg"])
    return message.removeprefix("Value error, ")


def _location(data: Any, loc: Sequence[int | str]) -> str:
    """Render a pydantic location as ``rules[3] 'high value'.when.all[0].op``."""
    parts: list[str] = []
    node = data
    parent_key: str | None = None
    for key in loc:
        if key in ("condition", "group") and not isinstance(node, Mapping | list):
            continue
        if isinstance(key, int):
            label = ""
            item = node[key] if isinstance(node, list) and 0 <= key < len(node) else None
            label_key = _LABEL_KEYS.get(parent_key or "")
            if label_key and isinstance(item, Mapping) and item.get(label_key):
                label = f" {item[label_key]!r}"
            parts.append(f"[{key}]{label}")
            node = item
        else:
            if key in ("condition", "group"):
                continue
            parts.append(("." if parts else "") + str(key))
            node = node.get(key) if isinstance(node, Mapping) else None
            parent_key = str(key)
    return "".join(parts)


def _normalisation(raw: NormalisationIn) -> Normalisation:
    # A log scale needs a positive floor (the amount that scores 0); 1 makes it ~log1p.
    default_floor = 1.0 if raw.scale is Scale.LOG else 0.0
    floor = raw.floor if raw.floor is not None else default_floor
    if raw.scale is Scale.LOG:
        floor = max(floor, 1.0)
    return Normalisation(scale=raw.scale, cap=raw.cap or 0.0, floor=floor)


class _Builder:
    """Second pass: cross-references and meaning, turning pydantic input into dataclasses."""

    def __init__(self, raw: ConfigIn) -> None:
        self.raw = raw
        self.issues: list[ConfigIssue] = []

    def problem(self, location: str, message: str) -> None:
        self.issues.append(ConfigIssue(location, message))

    def build(self, source: str) -> RoutingConfig:
        raw = self.raw
        calendars = self._calendars(raw.calendars)
        teams = self._teams(calendars)
        if raw.default_team not in teams:
            self.problem("default_team", self._unknown("team", raw.default_team, teams))
        agents = self._agents(teams)
        policies = self._sla_policies(raw.sla.policies, teams, calendars, agents)
        return RoutingConfig(
            version=config_version(raw),
            teams=teams,
            agents=agents,
            scoring=self._scoring(),
            tiers=self._tiers(),
            rules=self._rules(teams, {p.name for p in policies}),
            default_team=raw.default_team,
            calendars=calendars,
            sla_policies=policies,
            surveys=self._surveys(),
            anomalies=self._anomalies(),
            integrations=self._integrations(teams, {a.id for a in agents}),
            source=source,
        )

    def _surveys(self) -> SurveyPolicy:
        raw = self.raw.surveys
        if raw.reminder_after is not None and raw.reminder_after >= raw.expires_after:
            self.problem(
                "surveys.reminder_after",
                "the reminder must come before the survey expires (expires_after)",
            )
        return SurveyPolicy(
            enabled=raw.enabled,
            delay=raw.delay,
            reminder_after=raw.reminder_after,
            expires_after=raw.expires_after,
            partner_cooldown=raw.partner_cooldown,
            skip_tags=frozenset(raw.skip_tags),
            skip_categories=frozenset(c.value for c in raw.skip_categories),
        )

    def _integrations(self, teams: Mapping[str, Team], agents: set[str]) -> IntegrationsConfig:
        raw = self.raw.integrations
        sources: list[EnrichmentSource] = []
        names: set[str] = set()
        for index, src in enumerate(raw.enrichment):
            where = f"integrations.enrichment[{index}] {src.name!r}"
            if src.name in names:
                self.problem(f"{where}.name", f"source {src.name!r} is defined twice")
            names.add(src.name)
            kinds = {k.value for k in SourceKind}
            if src.kind not in kinds:
                self.problem(f"{where}.kind", self._unknown("source kind", src.kind, kinds))
                continue
            kind = SourceKind(src.kind)
            if kind is SourceKind.FILE and not src.path:
                self.problem(f"{where}.path", "a file source needs the path of its CSV or Parquet")
            elif kind is SourceKind.FILE and not src.path.endswith((".csv", ".parquet")):  # type: ignore[union-attr]
                self.problem(f"{where}.path", f"expected a .csv or .parquet file, got {src.path!r}")
            if kind is not SourceKind.FILE and src.path is not None:
                self.problem(f"{where}.path", f"only a file source reads a path, not {kind.value}")
            if src.refresh.total_seconds() < 60:
                self.problem(f"{where}.refresh", "refresh at most once a minute (at least 1m)")
            sources.append(
                EnrichmentSource(
                    src.name, kind, src.refresh, src.path, src.partner_property,
                    src.deal_value_property,
                )
            )  # fmt: skip
        return IntegrationsConfig(
            zendesk=self._help_desk("zendesk", raw.zendesk, teams, agents),
            freshdesk=self._help_desk("freshdesk", raw.freshdesk, teams, agents),
            enrichment=tuple(sources),
        )

    def _help_desk(
        self, name: str, raw: HelpDeskIn | None, teams: Mapping[str, Team], agents: set[str]
    ) -> HelpDeskMapping | None:
        if raw is None:
            return None
        where = f"integrations.{name}"
        for ours, theirs in raw.fields.items():
            if ours not in MAPPABLE_FIELDS:
                self.problem(
                    f"{where}.fields.{ours}",
                    self._unknown("ticket field", ours, set(MAPPABLE_FIELDS)),
                )
            # Zendesk names custom fields by number; Freshdesk by a name starting with cf_.
            if name == "zendesk" and not theirs.isdigit():
                self.problem(
                    f"{where}.fields.{ours}",
                    f"expected a Zendesk custom field id (a number), got {theirs!r}",
                )
            if name == "freshdesk" and not theirs.startswith("cf_"):
                self.problem(
                    f"{where}.fields.{ours}",
                    f"expected a Freshdesk custom field name starting with 'cf_', got {theirs!r}",
                )
        for team in raw.groups:
            if team not in teams:
                self.problem(f"{where}.groups.{team}", self._unknown("team", team, teams))
        for kind, mapping in (("groups", raw.groups), ("agents", raw.agents)):
            seen: dict[int, str] = {}
            for ours, their_id in mapping.items():
                if their_id in seen:
                    given = seen[their_id]
                    self.problem(
                        f"{where}.{kind}.{ours}", f"id {their_id} is given to {given!r} too"
                    )
                seen[their_id] = ours
        for agent in raw.agents:
            if agent not in agents:
                self.problem(f"{where}.agents.{agent}", self._unknown("agent", agent, agents))
        return HelpDeskMapping(
            dict(raw.fields), dict(raw.groups), dict(raw.agents), raw.private_note
        )

    @staticmethod
    def _unknown(kind: str, name: str, known: Mapping[str, Any] | set[str]) -> str:
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(known))}"
        return f"unknown {kind} {name!r}{hint}"

    def _calendars(self, raws: list[CalendarIn]) -> dict[str, Calendar]:
        calendars = {ALWAYS_OPEN: Calendar(ALWAYS_OPEN, "UTC", _all_week())}
        for index, cal in enumerate(raws):
            where = f"calendars[{index}] {cal.name!r}"
            if cal.name in calendars:
                self.problem(f"{where}.name", f"calendar {cal.name!r} is defined twice")
                continue
            try:
                ZoneInfo(cal.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                self.problem(f"{where}.timezone", f"unknown time zone {cal.timezone!r}")
            hours: dict[int, tuple[tuple[time, time], ...]] = {}
            for day, spans in cal.hours.items():
                if day not in WEEKDAYS:
                    self.problem(f"{where}.hours.{day}", f"expected one of {', '.join(WEEKDAYS)}")
                    continue
                parsed = [self._span(f"{where}.hours.{day}", span) for span in spans]
                ordered = sorted(s for s in parsed if s is not None)
                for (_, end), (start, _) in itertools.pairwise(ordered):
                    if start < end:
                        self.problem(f"{where}.hours.{day}", "time spans overlap")
                hours[WEEKDAYS.index(day)] = tuple(ordered)
            calendars[cal.name] = Calendar(cal.name, cal.timezone, hours, frozenset(cal.holidays))
        return calendars

    def _span(self, where: str, span: str) -> tuple[time, time] | None:
        match = _SPAN.match(span.strip())
        if match:
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            if h1 < 24 and m1 < 60 and m2 < 60 and (h2 < 24 or (h2, m2) == (24, 0)):
                end = time.max if h2 == 24 else time(h2, m2)
                if time(h1, m1) < end:
                    return time(h1, m1), end
        self.problem(where, f"expected a span like '09:00-17:30' (start before end), got {span!r}")
        return None

    def _teams(self, calendars: Mapping[str, Calendar]) -> dict[str, Team]:
        teams: dict[str, Team] = {}
        for index, team in enumerate(self.raw.teams):
            where = f"teams[{index}] {team.name!r}"
            if team.name in teams:
                self.problem(f"{where}.name", f"team {team.name!r} is defined twice")
            if team.calendar not in calendars:
                self.problem(
                    f"{where}.calendar", self._unknown("calendar", team.calendar, calendars)
                )
            teams[team.name] = Team(team.name, frozenset(team.skills), team.calendar)
        return teams

    def _agents(self, teams: Mapping[str, Team]) -> tuple[Agent, ...]:
        seen: set[str] = set()
        agents: list[Agent] = []
        for index, agent in enumerate(self.raw.agents):
            where = f"agents[{index}] {agent.id!r}"
            if agent.id in seen:
                self.problem(f"{where}.id", f"agent id {agent.id!r} is used twice")
            seen.add(agent.id)
            for position, team in enumerate(agent.teams):
                if team not in teams:
                    self.problem(f"{where}.teams[{position}]", self._unknown("team", team, teams))
            agents.append(
                Agent(
                    id=agent.id,
                    name=agent.name,
                    teams=tuple(agent.teams),
                    skills=dict(agent.skills),
                    capacity=agent.capacity,
                    status=agent.status,
                    seniority=agent.seniority,
                )
            )
        return tuple(agents)

    def _scoring(self) -> ScoringConfig:
        scoring = self.raw.scoring
        weights = scoring.weights.model_dump()
        total = sum(weights.values())
        if total <= 0:
            self.problem("scoring.weights", "at least one factor weight must be above 0")
            total = 1.0
        for name, norm in (
            ("deal_value", scoring.deal_value),
            ("lead_volume", scoring.lead_volume),
        ):
            if norm.scale in (Scale.LOG, Scale.LINEAR) and not norm.cap:
                self.problem(
                    f"scoring.{name}.cap", f"scale {norm.scale.value!r} needs a cap above 0"
                )
            elif norm.cap and norm.floor is not None and norm.floor >= norm.cap:
                self.problem(f"scoring.{name}.floor", f"{norm.floor} must be below cap {norm.cap}")
        if scoring.deal_value.scale is Scale.PERCENTILE:
            self.problem("scoring.deal_value.scale", "expected 'log' or 'linear'")
        engagement = scoring.engagement.model_dump()
        engagement_total = sum(engagement.values())
        if engagement_total <= 0:
            self.problem("scoring.engagement", "at least one engagement KPI weight must be above 0")
            engagement_total = 1.0
        levels = scoring.urgency.levels
        missing = [u.value for u in Urgency if u not in levels]
        if missing:
            self.problem("scoring.urgency.levels", f"missing levels: {', '.join(missing)}")
        keywords = {
            urgency: tuple(word.lower() for word in scoring.urgency.keywords.get(urgency, ()))
            for urgency in sorted(Urgency, key=lambda u: -levels.get(u, 0.0))
            if scoring.urgency.keywords.get(urgency)
        }
        return ScoringConfig(
            weights={name: weights[name] / total for name in FACTORS},
            deal_value=_normalisation(scoring.deal_value),
            lead_volume=_normalisation(scoring.lead_volume),
            engagement_weights={k: v / engagement_total for k, v in engagement.items()},
            urgency_levels={u: levels.get(u, 0.0) for u in Urgency},
            urgency_default=scoring.urgency.default,
            urgency_keywords=keywords,
        )

    def _anomalies(self) -> AnomalyConfig:
        raw = self.raw.anomalies
        if raw.lookback < raw.duplicate_leads.window:
            self.problem("anomalies.lookback", "must be at least anomalies.duplicate_leads.window")
        if raw.lookback.days < raw.volume.min_history_days:
            self.problem(
                "anomalies.lookback",
                f"{raw.lookback.days} days is shorter than anomalies.volume.min_history_days"
                f" ({raw.volume.min_history_days})",
            )
        return AnomalyConfig(
            duplicate_leads=DuplicateLeadsConfig(**raw.duplicate_leads.model_dump()),
            conversion_mismatch=ConversionMismatchConfig(**raw.conversion_mismatch.model_dump()),
            volume=VolumeConfig(**raw.volume.model_dump()),
            lag=LagConfig(**raw.lag.model_dump()),
            conversion_rate=ConversionRateConfig(**raw.conversion_rate.model_dump()),
            lookback=raw.lookback,
            resolve_after=raw.resolve_after,
        )

    def _tiers(self) -> tuple[Tier, ...]:
        tiers = sorted(self.raw.tiers, key=lambda t: -t.min_score)
        priorities = [t.priority for t in tiers]
        if len(set(priorities)) != len(priorities):
            self.problem("tiers", "each priority may appear in only one tier")
        if [PRIORITY_RANK[p] for p in priorities] != sorted(PRIORITY_RANK[p] for p in priorities):
            self.problem(
                "tiers", "a higher min_score must give a more urgent priority (p1 highest)"
            )
        if len({t.min_score for t in tiers}) != len(tiers):
            self.problem("tiers", "two tiers share a min_score")
        if tiers and tiers[-1].min_score != 0:
            self.problem(
                "tiers", "the lowest tier must start at min_score 0 so every score has one"
            )
        return tuple(Tier(t.priority, t.min_score) for t in tiers)

    def _rules(self, teams: Mapping[str, Team], policies: set[str]) -> tuple[Rule, ...]:
        rules: list[Rule] = []
        names: set[str] = set()
        for index, rule in enumerate(self.raw.rules):
            where = f"rules[{index}] {rule.name!r}"
            if rule.name in names:
                self.problem(f"{where}.name", f"rule name {rule.name!r} is used twice")
            names.add(rule.name)
            when = self._group(f"{where}.when", rule.when)
            rules.append(
                Rule(rule.name, when, self._actions(where, rule, teams, policies), rule.description)
            )
        return tuple(rules)

    def _group(self, where: str, group: GroupIn) -> Group:
        def items(side: str, raws: list[ConditionIn | GroupIn]) -> tuple[Condition | Group, ...]:
            return tuple(
                self._group(f"{where}.{side}[{i}]", item)
                if isinstance(item, GroupIn)
                else self._condition(f"{where}.{side}[{i}]", item)
                for i, item in enumerate(raws)
            )

        return Group(all=items("all", group.all), any=items("any", group.any))

    def _condition(self, where: str, raw: ConditionIn) -> Condition:
        spec = FIELDS.get(raw.field)
        if spec is None:
            self.problem(f"{where}.field", self._unknown("field", raw.field, set(FIELDS)))
            return Condition(raw.field, raw.op, raw.value)
        if raw.op not in OPS_BY_KIND[spec.kind]:
            allowed = ", ".join(sorted(op.value for op in OPS_BY_KIND[spec.kind]))
            self.problem(
                f"{where}.op",
                f"operator {raw.op.value!r} does not apply to {spec.kind.value} field "
                f"{spec.name!r}; expected one of: {allowed}",
            )
            return Condition(raw.field, raw.op, raw.value)
        try:
            value = _check_value(spec, raw.op, raw.value)
        except ValueError as exc:
            self.problem(f"{where}.value", f"{spec.name} {raw.op.value}: {exc}")
            value = raw.value
        return Condition(raw.field, raw.op, value)

    def _actions(
        self, where: str, rule: RuleIn, teams: Mapping[str, Team], policies: set[str]
    ) -> Actions:
        then = rule.then
        if then.team is not None and then.team not in teams:
            self.problem(f"{where}.then.team", self._unknown("team", then.team, teams))
        if then.sla_policy is not None and then.sla_policy not in policies:
            self.problem(
                f"{where}.then.sla_policy", self._unknown("SLA policy", then.sla_policy, policies)
            )
        acts = then.model_dump(exclude={"stop"}, exclude_defaults=True)
        if not acts:
            self.problem(f"{where}.then", "a rule needs at least one action besides stop")
        return Actions(
            team=then.team,
            priority=then.priority,
            priority_floor=then.priority_floor,
            tags=tuple(then.tags),
            skills=tuple(SkillRequirement(s.name, s.level) for s in then.skills),
            sla_policy=then.sla_policy,
            prefer_account_manager=then.prefer_account_manager,
            stop=then.stop,
        )

    def _sla_policies(
        self,
        raws: list[SlaPolicyIn],
        teams: Mapping[str, Team],
        calendars: Mapping[str, Calendar],
        agents: Sequence[Agent],
    ) -> tuple[SlaPolicy, ...]:
        agent_ids = {a.id for a in agents}
        names: set[str] = set()
        policies: list[SlaPolicy] = []
        for index, raw in enumerate(raws):
            where = f"sla.policies[{index}] {raw.name!r}"
            if raw.name in names:
                self.problem(f"{where}.name", f"SLA policy {raw.name!r} is defined twice")
            names.add(raw.name)
            if raw.calendar not in calendars:
                self.problem(
                    f"{where}.calendar", self._unknown("calendar", raw.calendar, calendars)
                )
            for position, team in enumerate(raw.match.team):
                if team not in teams:
                    self.problem(
                        f"{where}.match.team[{position}]", self._unknown("team", team, teams)
                    )
            steps: list[EscalationStep] = []
            for step_index, step in enumerate(raw.escalations):
                at = f"{where}.escalations[{step_index}]"
                if (step.at is None) == (step.after is None):
                    self.problem(at, "give exactly one of 'at' (fraction of target) or 'after'")
                if step.action is EscalationAction.REASSIGN:
                    if step.team is None and step.agent is None:
                        self.problem(at, "reassign needs a 'team' or an 'agent'")
                    if step.team is not None and step.team not in teams:
                        self.problem(f"{at}.team", self._unknown("team", step.team, teams))
                    if step.agent is not None and step.agent not in agent_ids:
                        self.problem(f"{at}.agent", self._unknown("agent", step.agent, agent_ids))
                if step.action is EscalationAction.ADD_TAG and not step.tag:
                    self.problem(at, "add_tag needs a 'tag'")
                steps.append(
                    EscalationStep(
                        action=step.action,
                        at_fraction=step.at,
                        after=step.after,
                        team=step.team,
                        agent=step.agent,
                        tag=step.tag,
                        priority=step.priority,
                    )
                )
            policies.append(
                SlaPolicy(
                    name=raw.name,
                    priorities=frozenset(raw.match.priority),
                    partner_tiers=frozenset(raw.match.partner_tier),
                    teams=frozenset(raw.match.team),
                    calendar=raw.calendar,
                    first_response=raw.first_response,
                    next_response=raw.next_response,
                    resolution=raw.resolution,
                    escalations=tuple(steps),
                )
            )
        return tuple(policies)


def _all_week() -> dict[int, tuple[tuple[time, time], ...]]:
    return {day: ((time(0, 0), time.max),) for day in range(7)}


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_scalar(spec: FieldSpec, value: object) -> object:
    if spec.kind is FieldKind.NUMBER:
        if not _is_number(value):
            raise ValueError(f"expected a number, got {value!r}")
        return float(value)  # type: ignore[arg-type]
    if spec.kind is FieldKind.BOOL:
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    if spec.kind is FieldKind.ENUM and value not in spec.choices:
        raise ValueError(f"expected one of {', '.join(spec.choices)}, got {value!r}")
    return value.lower() if spec.kind is FieldKind.TEXT else value


def _check_value(spec: FieldSpec, op: Op, value: object) -> object:
    """The condition's value, checked against the field and operator, in canonical form."""
    if op in (Op.IS_SET, Op.NOT_SET):
        if value is not None:
            raise ValueError("takes no value")
        return None
    if value is None:
        raise ValueError("needs a value")
    if op in (Op.IN, Op.NOT_IN):
        if not isinstance(value, list) or not value:
            raise ValueError(f"expected a non-empty list, got {value!r}")
        return frozenset(_check_scalar(spec, item) for item in value)
    if op is Op.BETWEEN:
        if not isinstance(value, list) or len(value) != 2:
            raise ValueError(f"expected [low, high], got {value!r}")
        low, high = (_check_scalar(spec, item) for item in value)
        if low > high:  # type: ignore[operator]
            raise ValueError(f"low {low} is above high {high}")
        return (low, high)
    if op is Op.MATCHES:
        if not isinstance(value, str):
            raise ValueError(f"expected a regular expression string, got {value!r}")
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return value
    if spec.kind is FieldKind.LIST:
        if not isinstance(value, str):
            raise ValueError(f"expected a string element, got {value!r}")
        return value
    if spec.kind is FieldKind.TEXT and op in (Op.CONTAINS, Op.NOT_CONTAINS):
        if not isinstance(value, str) or not value:
            raise ValueError(f"expected a non-empty string, got {value!r}")
        return value.lower()
    return _check_scalar(spec, value)
