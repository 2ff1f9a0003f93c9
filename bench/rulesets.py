"""A 200-rule routing program shaped like a real one, and the same rules for two peer engines.

`build_config` writes the program as the plain data a YAML file would hold (20 teams, 500
agents, 200 rules) and validates it with `parse_config`. `ZenRules` and `RuleEngineRules`
translate the parsed rules' conditions into GoRules ZEN expressions (one decision table,
hit policy "collect") and `rule_engine` expressions. All three answer the same question:
which rules match, in order, ending after the first matching rule that has `stop`.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from typing import Any

import numpy as np
import rule_engine
import zen

from affroute.config import (
    FIELDS,
    Condition,
    FieldKind,
    FieldSpec,
    Group,
    Op,
    RoutingConfig,
    Rule,
    parse_config,
)
from affroute.domain import Category, Channel, PartnerTier, PromotionType
from affroute.engine import Facts

RULE_COUNT = 200
REGIONS = ("NA", "EMEA", "APAC", "LATAM")
ANOMALY_KINDS = (
    "duplicate_leads",
    "conversion_mismatch",
    "click_spike",
    "conversion_drop",
    "short_click_to_conversion",
)
# Conditions on the rule state (priority, team) see what earlier rules decided; a stateless
# decision table cannot, so the generated program leaves them out.
STATE_FIELDS = frozenset({"priority", "team"})

# Team -> the skills its agents hold, and the relative number of agents it gets.
TEAMS: dict[str, tuple[tuple[str, ...], int]] = {
    "general_support": (("general",), 8),
    "na_support": (("general",), 20),
    "emea_support": (("general", "german", "french"), 25),
    "apac_support": (("general", "japanese"), 18),
    "latam_support": (("general", "spanish", "portuguese"), 10),
    "senior_support": (("senior", "negotiation"), 22),
    "vip_desk": (("senior", "account_management"), 25),
    "account_management": (("account_management",), 14),
    "partner_success": (("account_management", "lead_quality"), 45),
    "promotions": (("promotions",), 70),
    "creative_studio": (("creative",), 50),
    "analytics": (("attribution",), 22),
    "fraud_review": (("fraud", "attribution"), 8),
    "tracking_engineering": (("tracking", "api"), 50),
    "finance": (("commissions",), 60),
    "payouts_ops": (("payouts",), 55),
    "onboarding": (("onboarding",), 15),
    "compliance": (("compliance",), 22),
    "legal": (("legal",), 4),
    "senior_managers": (("escalations",), 4),
}
ACCOUNT_MANAGERS = tuple(f"am-{i:02d}" for i in range(1, 7))  # as the generator names them

CATEGORY_TEAM: dict[Category, str] = {
    Category.COMMISSION_DISPUTE: "finance",
    Category.PAYOUT: "payouts_ops",
    Category.LEAD_QUALITY: "partner_success",
    Category.TRACKING_ATTRIBUTION: "tracking_engineering",
    Category.CAMPAIGN_PERFORMANCE: "promotions",
    Category.CREATIVE_REQUEST: "creative_studio",
    Category.ACCOUNT_ACCESS: "onboarding",
    Category.COMPLIANCE: "compliance",
}
# Words partners write (see affroute.synth.text), from common to rare, and the tag each sets.
KEYWORDS: tuple[tuple[str, str], ...] = (
    ("commission", "commission"),
    ("payout", "payout"),
    ("conversion", "conversion"),
    ("tracking", "tracking"),
    ("leads", "leads"),
    ("dashboard", "dashboard"),
    ("report", "reporting"),
    ("newsletter", "newsletter"),
    ("postback", "postback"),
    ("pixel", "pixel"),
    ("bank", "banking"),
    ("invoice", "invoice"),
    ("reversed", "reversal"),
    ("voided", "reversal"),
    ("duplicate", "duplicates"),
    ("banner", "creative_assets"),
    ("landing page", "landing_page"),
    ("coupon", "coupon"),
    ("password", "access"),
    ("two-factor", "access"),
    ("api key", "api"),
    ("sub id", "sub_ids"),
    ("benchmark", "benchmarks"),
    ("tax form", "tax"),
)
REGEXES: tuple[tuple[str, str], ...] = (
    (r"\b(refund|chargeback|return)s?\b", "returns"),
    (r"\binvoice\s+\S+", "invoice_ref"),
    (r"\b\d{2,3}%", "percent_cited"),
    (r"\bnot (received|arrived|tracking|firing)\b", "not_received"),
    (r"\b(postback|pixel|s2s)\b", "integration"),
    (r"\bbot (traffic|clicks)\b", "bot_traffic"),
    (r"\b(gdpr|ftc|disclosure|trademark bidding)\b", "regulatory"),
    (r"\bends in \d{4}\b", "bank_details"),
    (r"\b(300x250|728x90|320x50|160x600)\b", "ad_sizes"),
    (r"\bthree months in a row\b", "repeat_issue"),
    (r"\b(asap|urgent|immediately|today)\b", "urgent_words"),
    (r"\bsince (monday|tuesday|yesterday|last week)\b", "ongoing"),
)

RuleData = dict[str, Any]


def _cond(field: str, op: str, value: Any = None) -> dict[str, Any]:
    item: dict[str, Any] = {"field": field, "op": op}
    if value is not None:
        item["value"] = value
    return item


def _rule(name: str, then: dict[str, Any], *all_: Any, any_: Sequence[Any] = ()) -> RuleData:
    when: dict[str, Any] = {}
    if all_:
        when["all"] = list(all_)
    if any_:
        when["any"] = list(any_)
    return {"name": name, "when": when, "then": then}


class _Picker:
    """Deterministic choices from one seeded generator, returned as plain Python values."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def one(self, items: Sequence[Any]) -> Any:
        return items[int(self.rng.integers(len(items)))]

    def some(self, items: Sequence[Any], k: int) -> list[Any]:
        return [items[int(i)] for i in sorted(self.rng.choice(len(items), k, replace=False))]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)


def _triage_rules(pick: _Picker) -> list[RuleData]:
    """Priority floors and tags: most of a real program, and none of it picks a team."""
    rules = [
        _rule("urgent tickets are at least P2", {"priority_floor": "p2", "tags": ["urgent"]},
              _cond("ticket.urgency", "==", "urgent")),
        _rule("flagged partners are at least P2", {"priority_floor": "p2", "tags": ["anomaly"]},
              _cond("has_open_anomaly", "==", True)),
        _rule("vip tag", {"priority_floor": "p2", "tags": ["vip"]},
              _cond("ticket.tags", "contains", "vip")),
        _rule("reopened tickets", {"priority_floor": "p3", "tags": ["reopened"]},
              _cond("ticket.tags", "contains", "reopened")),
        _rule("automated tickets", {"tags": ["automated"]},
              _cond("ticket.tags", "contains", "automated")),
        _rule("unknown partner", {"tags": ["unknown_partner"]},
              _cond("partner.known", "==", False)),
        _rule("undeclared urgency by email", {"tags": ["check_urgency"]},
              _cond("ticket.urgency_declared", "==", False),
              _cond("ticket.channel", "==", "email")),
        _rule("premium partners SLA", {"sla_policy": "premium partners", "tags": ["premium"]},
              _cond("partner.tier", "==", "premium")),
        _rule("no deal on file", {"tags": ["no_deal"]}, _cond("deal.id", "not_set")),
        _rule("campaign named on an access question", {"tags": ["campaign_named"]},
              _cond("campaign.id", "is_set"), _cond("ticket.category", "==", "account_access")),
    ]  # fmt: skip
    for word, tag in KEYWORDS:
        then: dict[str, Any] = {"tags": [f"kw_{tag}"]}
        if pick.chance(0.25):
            then["priority_floor"] = pick.one(("p2", "p3"))
        rules.append(_rule(f"mentions {word}", then, _cond("ticket.text", "contains", word)))
    for pattern, tag in REGEXES:
        then = {"tags": [f"re_{tag}"]}
        if pick.chance(0.3):
            then["priority_floor"] = "p3"
        rules.append(_rule(f"text pattern {tag}", then, _cond("ticket.text", "matches", pattern)))
    bands = (0, 1_000, 2_500, 5_000, 10_000, 20_000, 35_000, 50_000, 75_000, 100_000, 250_000)
    for low, high in itertools.pairwise(bands):
        then = {"tags": [f"deal_{low // 1000}k_{high // 1000}k"]}
        if low >= 50_000:
            then["priority_floor"] = "p2"
        rules.append(_rule(f"deal band {low}-{high}", then,
                           _cond("deal.value", "between", [low, high - 0.01])))  # fmt: skip
    rules += [
        _rule("very large deals are P1", {"priority": "p1", "tags": ["very_large_deal"]},
              _cond("deal.value", ">=", 250_000)),
        _rule("small deals", {"tags": ["small_deal"]}, _cond("deal.value", "<", 1_000)),
        _rule("most engaged 5%", {"priority_floor": "p2", "tags": ["top5_engaged"]},
              _cond("engagement_percentile", ">=", 0.95)),
        _rule("least engaged quarter", {"tags": ["low_engagement"]},
              _cond("engagement_percentile", "<=", 0.25)),
        _rule("high click-through", {"tags": ["high_ctr"]},
              _cond("partner.click_through_rate", "between", [0.08, 0.2])),
        _rule("large weekly lead flow", {"tags": ["lead_flow"]},
              _cond("partner.weekly_active_leads", ">", 60)),
        _rule("rarely logs in", {"tags": ["dormant_portal"]},
              _cond("partner.portal_logins", "in", [0, 1])),
        _rule("top lead volume", {"tags": ["top_volume"]},
              _cond("lead_volume_percentile", ">=", 0.9)),
        _rule("big monthly lead volume", {"priority_floor": "p3", "tags": ["volume_partner"]},
              _cond("partner.lead_volume", ">=", 400)),
        _rule("engaged partner without a manager", {"tags": ["needs_manager"]},
              _cond("engagement_score", ">=", 0.8), _cond("partner.account_manager", "not_set")),
        _rule("top scores are P1", {"priority_floor": "p1", "tags": ["top_score"]},
              _cond("score", ">=", 85)),
        _rule("high scores", {"tags": ["high_score"]}, _cond("score", "between", [65, 85])),
        _rule("low scores", {"tags": ["low_score"]}, _cond("score", "<", 20)),
        _rule("no score signal", {"tags": ["unscored"]}, _cond("score", "<", 10)),
    ]  # fmt: skip
    for region in REGIONS:
        rules.append(_rule(f"key partners in {region}", {"tags": [f"key_{region.lower()}"]},
                           _cond("partner.tier", "in", ["gold", "premium"]),
                           _cond("ticket.region", "==", region)))  # fmt: skip
        long_tail = {"tags": [f"long_tail_{region.lower()}"]}
        rules.append(_rule(f"bronze partners in {region}", long_tail,
                           _cond("partner.tier", "==", "bronze"),
                           _cond("partner.region", "==", region),
                           _cond("ticket.urgency", "in", ["high", "urgent"])))  # fmt: skip
    rules += [
        _rule("seasonal campaigns on social", {"tags": ["seasonal_social"]},
              _cond("campaign.promotion_type", "==", PromotionType.SEASONAL.value),
              _cond("campaign.channel", "in", [Channel.SOCIAL.value, Channel.INFLUENCER.value])),
        _rule("launch campaigns", {"priority_floor": "p3", "tags": ["launch"]},
              _cond("campaign.promotion_type", "==", PromotionType.LAUNCH.value)),
        _rule("black friday", {"priority_floor": "p2", "tags": ["black_friday"]},
              _cond("campaign.name", "contains", "Black Friday")),
        _rule("cyber monday", {"priority_floor": "p2", "tags": ["cyber_monday"]},
              _cond("campaign.name", "matches", "^Cyber Monday")),
        _rule("coupon channel", {"tags": ["coupon_channel"]},
              _cond("campaign.channel", "==", Channel.COUPON.value)),
        _rule("campaign out of region", {"tags": ["cross_region"]},
              _cond("campaign.region", "not_in", ["NA", "EMEA"]),
              _cond("ticket.region", "in", ["NA", "EMEA"])),
    ]  # fmt: skip
    for kind in ANOMALY_KINDS:
        rules.append(_rule(f"anomaly {kind}", {"tags": [f"anomaly_{kind}"]},
                           _cond("anomaly_kinds", "contains", kind)))  # fmt: skip
    rules += [
        _rule("disclosure questions on influencer campaigns", {"tags": ["disclosure"]},
              _cond("ticket.category", "==", Category.COMPLIANCE.value),
              {"any": [_cond("campaign.channel", "in", ["influencer", "social"]),
                       _cond("ticket.text", "matches", r"\bdisclos\w*")]}),
        _rule("money questions from big partners", {"priority_floor": "p2", "tags": ["money_vip"]},
              _cond("ticket.category", "in", ["commission_dispute", "payout"]),
              {"any": [_cond("partner.tier", "==", "premium"),
                       {"all": [_cond("partner.tier", "==", "gold"),
                                _cond("deal.value", ">=", 20_000)]}]}),
        _rule("tracking down on a flagged campaign", {"priority_floor": "p2", "tags": ["leak"]},
              any_=[{"all": [_cond("ticket.category", "==", "tracking_attribution"),
                             _cond("has_open_anomaly", "==", True)]},
                    {"all": [_cond("ticket.text", "contains", "zero conversions"),
                             _cond("deal.value", ">=", 10_000)]}]),
        _rule("payout complaints repeated", {"priority_floor": "p2", "tags": ["payout_repeat"]},
              _cond("ticket.category", "==", "payout"),
              {"any": [_cond("ticket.tags", "contains", "reopened"),
                       _cond("ticket.text", "contains", "again"),
                       _cond("ticket.text", "contains", "in a row")]}),
        _rule("access issues on api", {"tags": ["api_access"]},
              _cond("ticket.category", "==", "account_access"),
              {"any": [_cond("ticket.channel", "==", "api"),
                       _cond("ticket.text", "contains", "api")]}),
        _rule("lead rejections with anomaly", {"priority_floor": "p2", "tags": ["lead_anomaly"]},
              _cond("ticket.category", "==", "lead_quality"),
              {"any": [_cond("anomaly_kinds", "contains", "duplicate_leads"),
                       _cond("anomaly_kinds", "contains", "conversion_mismatch")]}),
        _rule("creative for big launches", {"tags": ["launch_creative"]},
              _cond("ticket.category", "==", "creative_request"),
              _cond("campaign.promotion_type", "!=", "evergreen"),
              _cond("partner.tier", "not_in", ["bronze"])),
        _rule("performance drop for engaged partners", {"priority_floor": "p3",
                                                       "tags": ["perf_engaged"]},
              _cond("ticket.category", "==", "campaign_performance"),
              _cond("engagement_percentile", ">=", 0.6),
              {"any": [_cond("ticket.text", "matches", r"\b(dropped|down|falling|fell)\b"),
                       _cond("ticket.subject", "contains", "underperforming")]}),
    ]  # fmt: skip
    return rules


def _team_rules(
    pick: _Picker, partner_ids: Sequence[str], campaign_ids: Sequence[str]
) -> list[RuleData]:
    """Teams by category and region, then named accounts and campaigns: the last one wins."""
    rules = [
        _rule(f"{category.value} to {team}", {"team": team},
              _cond("ticket.category", "==", category.value))
        for category, team in CATEGORY_TEAM.items()
    ]  # fmt: skip
    for region, team in (("EMEA", "emea_support"), ("APAC", "apac_support"),
                         ("LATAM", "latam_support"), ("NA", "na_support")):  # fmt: skip
        # The NA desk takes access questions only; lead quality stays with partner success.
        categories = ["account_access"] if region == "NA" else ["account_access", "lead_quality"]
        rules.append(_rule(f"{region} access questions to {team}", {"team": team},
                           _cond("ticket.category", "in", categories),
                           _cond("ticket.region", "==", region)))  # fmt: skip
    rules += [
        _rule("legal wording to legal", {"team": "legal", "tags": ["legal"]},
              _cond("ticket.text", "matches", r"\b(legal team|lawyer|in writing)\b")),
        _rule("api key problems to tracking engineering", {"team": "tracking_engineering"},
              _cond("ticket.text", "contains", "api key")),
        _rule("tax forms to payouts", {"team": "payouts_ops", "tags": ["tax"]},
              _cond("ticket.text", "contains", "tax form")),
        _rule("unknown partners to general support", {"team": "general_support"},
              _cond("partner.known", "==", False)),
    ]  # fmt: skip
    for index in range(30):
        accounts = pick.some(partner_ids, int(pick.rng.integers(3, 7)))
        if pick.chance(0.5):
            then: dict[str, Any] = {
                "team": "account_management",
                "prefer_account_manager": True,
                "tags": ["named_account"],
            }
        else:
            then = {"team": "vip_desk", "tags": ["named_account"], "skills": ["senior"]}
        if pick.chance(0.3):
            then["priority_floor"] = "p2"
        rules.append(_rule(f"named accounts {index + 1:02d}", then,
                           _cond("partner.id", "in", accounts)))  # fmt: skip
    for index in range(15):
        campaigns = pick.some(campaign_ids, int(pick.rng.integers(2, 5)))
        creative = pick.chance(0.4)
        category = "creative_request" if creative else "campaign_performance"
        team = "creative_studio" if creative else "promotions"
        skill = "creative" if creative else "promotions"
        rules.append(_rule(f"managed campaign {index + 1:02d}",
                           {"team": team, "skills": [skill], "tags": ["managed_campaign"]},
                           _cond("campaign.id", "in", campaigns),
                           _cond("ticket.category", "in", [category, "lead_quality"])))  # fmt: skip
    return rules


def _closing_rules(pick: _Picker) -> list[RuleData]:
    """Late overrides, the few rules that stop, and what runs only when none of them did."""
    rules: list[RuleData] = []
    rare = ("screenshots", "finance team", "out of office", "call", "export", "browser",
            "accountant", "placement", "feed", "sponsored", "currency", "threshold",
            "session expired", "opt-in", "organic search", "dark theme")  # fmt: skip
    for index, word in enumerate(rare):
        tier = pick.one(tuple(t.value for t in PartnerTier))
        rules.append(_rule(f"{tier} partners mentioning {word}", {"tags": [f"follow_up_{index}"]},
                           _cond("ticket.text", "contains", word),
                           _cond("partner.tier", "==", tier)))  # fmt: skip
    for region in REGIONS:
        rules.append(_rule(f"{region} campaign, partner elsewhere", {"tags": ["foreign_campaign"]},
                           _cond("campaign.region", "==", region),
                           _cond("ticket.region", "!=", region)))  # fmt: skip
    for category in ("commission_dispute", "payout", "lead_quality", "campaign_performance"):
        rules.append(_rule(f"{category} on a sizeable deal", {"tags": ["sizeable_deal"],
                                                              "priority_floor": "p3"},
                           _cond("deal.value", ">=", 20_000),
                           _cond("ticket.category", "==", category)))  # fmt: skip
    for urgency in ("high", "urgent"):
        for tier in ("silver", "gold", "premium"):
            rules.append(_rule(f"{urgency} from {tier} to senior managers' watch",
                               {"tags": [f"watch_{tier}_{urgency}"], "priority_floor": "p1"},
                               _cond("ticket.urgency", "==", urgency),
                               _cond("partner.tier", "==", tier),
                               _cond("engagement_percentile", ">=", 0.7)))  # fmt: skip
    rules += [
        _rule("high-value deals to senior support",
              {"team": "senior_support", "priority_floor": "p2", "tags": ["high_value"],
               "skills": ["senior:2"], "stop": True},
              _cond("deal.value", ">=", 50_000)),
        _rule("duplicate leads to fraud review",
              {"team": "fraud_review", "skills": ["fraud:2"], "tags": ["fraud"], "stop": True},
              _cond("anomaly_kinds", "contains", "duplicate_leads"),
              _cond("ticket.category", "in", ["lead_quality", "tracking_attribution"])),
        _rule("attribution anomalies to analytics",
              {"team": "analytics", "skills": ["attribution"], "tags": ["attribution"],
               "stop": True},
              _cond("has_open_anomaly", "==", True),
              any_=[_cond("ticket.category", "==", "tracking_attribution"),
                    _cond("ticket.text", "matches", r"\b(attribut\w*|sub ids?)\b")]),
        _rule("top scores to the vip desk",
              {"team": "vip_desk", "priority_floor": "p1", "stop": True},
              _cond("score", ">=", 88)),
        _rule("legal threats to legal",
              {"team": "legal", "priority_floor": "p2", "stop": True},
              _cond("ticket.text", "matches", r"\b(lawyer|legal action|terminate)\b")),
        _rule("gdpr to compliance",
              {"team": "compliance", "skills": ["compliance:2"], "stop": True},
              _cond("ticket.category", "==", "compliance"),
              _cond("ticket.text", "contains", "gdpr")),
    ]  # fmt: skip
    after_stops = (
        (
            "routine tickets",
            {"tags": ["routine"]},
            _cond("ticket.urgency", "in", ["low", "normal"]),
        ),
        ("api tickets", {"tags": ["api"]}, _cond("ticket.channel", "==", "api")),
        ("bronze partners", {"tags": ["bronze"]}, _cond("partner.tier", "==", "bronze")),
        ("silver partners", {"tags": ["silver"]}, _cond("partner.tier", "==", "silver")),
        (
            "low urgency waits",
            {"priority": "p4", "tags": ["can_wait"]},
            _cond("ticket.urgency", "==", "low"),
        ),
        ("email follow-up", {"tags": ["email_follow_up"]}, _cond("ticket.channel", "==", "email")),
    )
    rules += [_rule(name, then, cond) for name, then, cond in after_stops]
    return rules


def _agents(pick: _Picker, count: int) -> list[dict[str, Any]]:
    """Agents spread over the teams by weight; some cover a second team or are away."""
    names = list(TEAMS)
    weights = np.array([TEAMS[t][1] for t in names], dtype=np.float64)
    per_team = np.maximum(np.floor(weights / weights.sum() * count).astype(int), 4)
    per_team[int(np.argmax(per_team))] += count - int(per_team.sum())
    all_skills = sorted({s for skills, _ in TEAMS.values() for s in skills})
    agents: list[dict[str, Any]] = []
    managers = iter(ACCOUNT_MANAGERS)
    for team, size in zip(names, per_team.tolist(), strict=True):
        for index in range(size):
            teams = [team]
            if pick.chance(0.15):
                teams.append(pick.one([t for t in names if t != team]))
            skills: dict[str, int] = {}
            for member in teams:
                for skill in TEAMS[member][0]:
                    skills[skill] = max(skills.get(skill, 0), int(pick.rng.integers(1, 6)))
            for skill in pick.some(all_skills, 2):  # cross-training
                skills.setdefault(skill, int(pick.rng.integers(1, 3)))
            agent_id = f"{team}-{index + 1:03d}"
            if team == "account_management":
                agent_id = next(managers, agent_id)
            status = "online"
            if pick.chance(0.06):
                status = pick.one(("away", "offline"))
            agents.append({
                "id": agent_id,
                "name": f"Agent {agent_id}",
                "teams": teams,
                "skills": skills,
                "capacity": int(pick.rng.integers(6, 13)),
                "status": status,
                "seniority": pick.one(("junior", "mid", "mid", "senior", "lead")),
            })  # fmt: skip
    return agents


def build_config(
    rng: np.random.Generator,
    *,
    partner_ids: Sequence[str],
    campaign_ids: Sequence[str],
    agents: int = 500,
) -> RoutingConfig:
    """A validated 200-rule program naming real partners and campaigns; same rng, same config."""
    pick = _Picker(rng)
    rules = _triage_rules(pick) + _team_rules(pick, partner_ids, campaign_ids)
    rules += _closing_rules(pick)
    if len(rules) != RULE_COUNT:
        raise ValueError(f"the generated program has {len(rules)} rules, not {RULE_COUNT}")
    policies = [
        {"name": "premium partners", "match": {"partner_tier": ["premium"]},
         "first_response": "1h", "resolution": "24h"},
    ] + [
        {"name": p, "match": {"priority": [p]}, "first_response": first, "resolution": resolution}
        for p, first, resolution in (("p1", "1h", "8h"), ("p2", "4h", "2d"),
                                     ("p3", "8h", "4d"), ("p4", "1d", "10d"))
    ]  # fmt: skip
    data = {
        "default_team": "general_support",
        "teams": [{"name": name, "skills": list(skills)} for name, (skills, _) in TEAMS.items()],
        "agents": _agents(pick, agents),
        "scoring": {
            "weights": {"deal_value": 0.4, "engagement": 0.4, "lead_volume": 0.1,
                        "urgency": 0.05, "attribution_anomaly": 0.05},
            "deal_value": {"scale": "log", "floor": 500, "cap": 50_000},
            "lead_volume": {"scale": "percentile"},
            "urgency": {"keywords": {
                "urgent": ["urgent", "asap", "emergency", "blocking", "immediately"],
                "high": ["today", "critical", "escalate", "not paid", "stopped"],
            }},
        },
        "tiers": [{"priority": "p1", "min_score": 80}, {"priority": "p2", "min_score": 60},
                  {"priority": "p3", "min_score": 35}, {"priority": "p4", "min_score": 0}],
        "rules": rules,
        "sla": {"policies": policies},
    }  # fmt: skip
    return parse_config(data, source="<bench 200-rule program>")


# -- the peers ---------------------------------------------------------------------------

PEER_FIELDS = tuple(spec.attr for name, spec in FIELDS.items() if name not in STATE_FIELDS)


def facts_dict(facts: Facts) -> dict[str, Any]:
    """The rule fields of the facts as plain JSON-like data: enums as strings, lists."""
    data: dict[str, Any] = {}
    for attr in PEER_FIELDS:
        value = getattr(facts, attr)
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, tuple):
            value = list(value)
        data[attr] = value
    return data


def count_conditions(rules: Sequence[Rule], op: Op) -> int:
    """How many conditions in the rules use the operator."""

    def count(group: Group) -> int:
        items = (*group.all, *group.any)
        return sum(count(i) if isinstance(i, Group) else i.op is op for i in items)

    return sum(count(rule.when) for rule in rules)


def without_regexes(rules: Sequence[Rule]) -> tuple[Rule, ...]:
    """The rules with each `matches` condition replaced by one that never holds.

    For timing only: what the rules cost without their regexes. Never rather than always,
    so that a regex-only rule with `stop` does not end every run early.
    """
    never = Condition("score", Op.LT, -1.0)  # scores are 0..100

    def item(node: Condition | Group) -> Condition | Group:
        if isinstance(node, Group):
            return strip(node)
        return never if node.op is Op.MATCHES else node

    def strip(group: Group) -> Group:
        return Group(all=tuple(map(item, group.all)), any=tuple(map(item, group.any)))

    return tuple(dataclasses.replace(rule, when=strip(rule.when)) for rule in rules)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _translate(
    group: Group, condition: Callable[[Condition], str], true: str, and_: str, or_: str
) -> str:
    def item(node: Condition | Group) -> str:
        return condition(node) if isinstance(node, Condition) else f"({walk(node)})"

    def walk(node: Group) -> str:
        parts = [item(part) for part in node.all]
        if node.any:
            parts.append("(" + f" {or_} ".join(item(part) for part in node.any) + ")")
        return f" {and_} ".join(parts) if parts else true

    return walk(group)


def _pattern(spec: FieldSpec, pattern: str) -> str:
    """The regex as affroute applies it: text fields are lower-cased and case-insensitive.

    A pattern without capitals finds the same in lower-cased text with or without the
    flag, so the flag is only added where it matters (it slows both peers' regexes).
    """
    return (
        f"(?i){pattern}" if spec.kind is FieldKind.TEXT and pattern != pattern.lower() else pattern
    )


def _zen_literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number(value)
    text = str(value)
    # ZEN strings have no escapes: pick the quote the text does not use.
    for quote in ('"', "'"):
        if quote not in text:
            return f"{quote}{text}{quote}"
    raise ValueError(f"cannot write {text!r} as a ZEN string")


def zen_condition(cond: Condition) -> str:
    """One affroute condition as a ZEN expression on the flat facts."""
    spec = FIELDS[cond.field]
    if cond.field in STATE_FIELDS:
        raise ValueError(f"{cond.field} is rule state; a decision table cannot test it")
    x, op, value = spec.attr, cond.op, cond.value
    guard = f"{x} != null and "
    if op in (Op.IS_SET, Op.NOT_SET):
        test = f"{x} != null" if spec.kind is FieldKind.NUMBER else f'{x} != null and {x} != ""'
        if spec.kind is FieldKind.LIST:
            test = f"len({x}) > 0"
        return f"({test})" if op is Op.IS_SET else f"not ({test})"
    if op in (Op.EQ, Op.NE):
        return f"{x} {op.value} {_zen_literal(value)}"
    if op in (Op.IN, Op.NOT_IN):
        items = ", ".join(_zen_literal(v) for v in sorted(value, key=str))
        return f"{x} in [{items}]" if op is Op.IN else f"not ({x} in [{items}])"
    if op in (Op.LT, Op.LE, Op.GT, Op.GE):
        return f"({guard}{x} {op.value} {_zen_literal(value)})"
    if op is Op.BETWEEN:
        low, high = value
        return f"({guard}{x} >= {_zen_literal(low)} and {x} <= {_zen_literal(high)})"
    if op is Op.MATCHES:
        return f"({guard}matches({x}, {_zen_literal(_pattern(spec, value))}))"
    found = f"contains({x}, {_zen_literal(value)})"
    if spec.kind is FieldKind.STRING:
        found = f"{guard}{found}"
    return f"({found})" if op is Op.CONTAINS else f"not ({found})"


def zen_graph(rules: Sequence[Rule]) -> dict[str, Any]:
    """A JDM graph: request -> one decision table (collect, a row per rule) -> response."""
    table = {
        "hitPolicy": "collect",
        # An input column without a field makes each cell a full expression, not a unary test.
        "inputs": [{"id": "when", "name": "when"}],
        "outputs": [{"id": "rule", "field": "rule", "name": "rule"}],
        "rules": [
            {
                "_id": f"r{index}",
                "_description": rule.name,
                "when": _translate(rule.when, zen_condition, "true", "and", "or"),
                "rule": str(index),
            }
            for index, rule in enumerate(rules)
        ],
    }
    position = {"x": 0, "y": 0}
    return {
        "contentType": "application/vnd.gorules.decision",
        "nodes": [
            {"id": "request", "type": "inputNode", "name": "Request", "position": position},
            {
                "id": "rules",
                "type": "decisionTableNode",
                "name": "Routing rules",
                "position": position,
                "content": table,
            },
            {"id": "response", "type": "outputNode", "name": "Response", "position": position},
        ],
        "edges": [
            {"id": "e1", "type": "edge", "sourceId": "request", "targetId": "rules"},
            {"id": "e2", "type": "edge", "sourceId": "rules", "targetId": "response"},
        ],
    }


class ZenRules:
    """The rules as one GoRules decision table; `stop` cuts the collected rows afterwards.

    Evaluated through `ZenEngine.evaluate` with a static loader: in zen-engine 2.1.3 that
    path costs a few µs per call where `create_decision(...).evaluate` costs ~170 µs more,
    and the peer should run at its best.
    """

    KEY = "routing-rules"

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.graph = zen_graph(rules)
        engine = zen.ZenEngine({"loader": {"type": "static", "content": {self.KEY: self.graph}}})
        self._evaluate = engine.evaluate
        self._stops = frozenset(i for i, rule in enumerate(rules) if rule.then.stop)

    def matches(self, facts: dict[str, Any]) -> list[int]:
        """Indexes of the matching rules, in order, up to the first one that stops."""
        matched: list[int] = []
        for row in self._evaluate(self.KEY, facts)["result"]:
            index = row["rule"]
            matched.append(index)
            if index in self._stops:
                break
        return matched


def _rule_engine_literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number(value)
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def rule_engine_condition(cond: Condition) -> str:
    """One affroute condition as a `rule_engine` expression on the flat facts."""
    spec = FIELDS[cond.field]
    if cond.field in STATE_FIELDS:
        raise ValueError(f"{cond.field} is rule state; it is not in the facts")
    x, op, value = spec.attr, cond.op, cond.value
    guard = f"{x} != null and "
    if op in (Op.IS_SET, Op.NOT_SET):
        test = f"{x} != null" if spec.kind is FieldKind.NUMBER else f'{x} != null and {x} != ""'
        if spec.kind is FieldKind.LIST:
            test = f"{x}.length > 0"
        return f"({test})" if op is Op.IS_SET else f"not ({test})"
    if op in (Op.EQ, Op.NE):
        return f"{x} {op.value} {_rule_engine_literal(value)}"
    if op in (Op.IN, Op.NOT_IN):
        items = ", ".join(_rule_engine_literal(v) for v in sorted(value, key=str))
        return f"{x} in [{items}]" if op is Op.IN else f"not ({x} in [{items}])"
    if op in (Op.LT, Op.LE, Op.GT, Op.GE):
        return f"({guard}{x} {op.value} {_rule_engine_literal(value)})"
    if op is Op.BETWEEN:
        low, high = value
        low_text, high_text = _rule_engine_literal(low), _rule_engine_literal(high)
        return f"({guard}{x} >= {low_text} and {x} <= {high_text})"
    if op is Op.MATCHES:
        pattern = _rule_engine_literal(_pattern(spec, value))
        return f"({guard}{x} =~~ {pattern})"  # =~~ is re.search
    found = f"{_rule_engine_literal(value)} in {x}"
    if spec.kind is FieldKind.STRING:
        found = f"{guard}{found}"
    return f"({found})" if op is Op.CONTAINS else f"not ({found})"


class RuleEngineRules:
    """The rules as `rule_engine.Rule` objects, tried in order until one that stops."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.expressions = tuple(
            _translate(rule.when, rule_engine_condition, "true", "and", "or") for rule in rules
        )
        self._rules = tuple(
            (rule_engine.Rule(text), rule.then.stop)
            for text, rule in zip(self.expressions, rules, strict=True)
        )

    def matches(self, facts: Mapping[str, Any]) -> list[int]:
        """Indexes of the matching rules, in order, up to the first one that stops."""
        matched: list[int] = []
        for index, (rule, stop) in enumerate(self._rules):
            if rule.matches(facts):
                matched.append(index)
                if stop:
                    break
        return matched


PEER_NOTES = (
    "zen-engine: one JDM decision table, hit policy 'collect', one row per rule; its input "
    "column has no field, so each cell is a full ZEN expression (and/or nested as the rule's "
    "all/any). 'collect' evaluates every row; 'stop' is applied by cutting the collected rows "
    "after the first stopping rule, in Python, inside the timed call. Called through "
    "ZenEngine.evaluate with a static loader: in zen-engine 2.1.3 ZenDecision.evaluate costs "
    "~170 µs more per call, so the peer gets its faster path.",
    "matches: ZEN matches() (Rust regex) and rule-engine =~~ (Python re.search). affroute "
    "matches text case-insensitively on lower-cased text; the patterns are lower-case, so the "
    "peers find the same without the (?i) flag (added only for a pattern with capitals).",
    "between -> two comparisons (>= low and <= high); ordered comparisons, and matches or "
    "contains on a nullable string, get a `!= null` guard as affroute's compiled code has; "
    "contains on text/lists -> ZEN contains(), rule-engine `in`.",
    "Conditions on priority/team (rule state set by earlier rules) have no stateless "
    "equivalent in a decision table, so the generated program does not use them.",
)
