"""Loading and validating the routing configuration."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from affroute.config import ConfigError, Op, load_config, parse_config, parse_config_text
from affroute.domain import Priority
from tests.conftest import EXAMPLE, minimal_data


def errors_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, source="cfg.yaml")
    return [str(issue) for issue in info.value.issues]


def test_example_config_loads_with_every_strategy(example_config: Any) -> None:
    config = example_config
    assert config.default_team == "general_support"
    assert {"senior_support", "account_management", "promotions", "analytics", "finance"} <= set(
        config.teams
    )
    assert len(config.agents) >= 30
    assert [t.priority for t in config.tiers] == [
        Priority.P1,
        Priority.P2,
        Priority.P3,
        Priority.P4,
    ]
    assert abs(sum(config.scoring.weights.values()) - 1.0) < 1e-9
    premium = next(p for p in config.sla_policies if p.name == "premium partners")
    assert premium.escalations[-1].after == timedelta(hours=48)
    assert premium.escalations[-1].team == "senior_managers"


def test_version_is_stable_and_changes_with_content(example_data: dict[str, Any]) -> None:
    first = parse_config(example_data).version
    assert parse_config(example_data).version == first
    example_data["scoring"]["weights"]["urgency"] = 0.2
    assert parse_config(example_data).version != first


def test_unknown_rule_field_names_rule_and_suggests() -> None:
    rule = {"name": "big deals", "when": {"all": [{"field": "deal.valu", "op": ">=", "value": 5}]}}
    rule["then"] = {"team": "finance"}
    [message] = errors_of(minimal_data(rules=[rule]))
    assert "rules[0] 'big deals'" in message
    assert "when.all[0].field" in message
    assert "unknown field 'deal.valu'" in message
    assert "did you mean 'deal.value'" in message


def test_unknown_operator_lists_the_operators() -> None:
    rule = {
        "name": "r",
        "when": {"any": [{"field": "score", "op": "gte", "value": 5}]},
        "then": {"tags": ["x"]},
    }
    [message] = errors_of(minimal_data(rules=[rule]))
    assert "rules[0] 'r'.when.any[0].op" in message
    assert "'>='" in message


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "deal.value", "op": ">=", "value": "lots"}, "expected a number"),
        ({"field": "ticket.category", "op": "==", "value": "refund"}, "expected one of"),
        ({"field": "ticket.category", "op": ">", "value": "payout"}, "does not apply to enum"),
        ({"field": "ticket.text", "op": "matches", "value": "(unclosed"}, "invalid regular"),
        ({"field": "score", "op": "between", "value": [90, 10]}, "is above high"),
        ({"field": "score", "op": "in", "value": []}, "non-empty list"),
        ({"field": "deal.id", "op": "is_set", "value": "x"}, "takes no value"),
        ({"field": "has_open_anomaly", "op": "==", "value": "yes"}, "true or false"),
        ({"field": "score", "op": ">="}, "needs a value"),
    ],
)
def test_bad_condition_values_are_named(condition: dict[str, Any], expected: str) -> None:
    rule = {"name": "check", "when": {"all": [condition]}, "then": {"tags": ["t"]}}
    [message] = errors_of(minimal_data(rules=[rule]))
    assert "rules[0] 'check'" in message
    assert expected in message


def test_nested_group_errors_carry_the_path() -> None:
    rule = {
        "name": "nested",
        "when": {"all": [{"any": [{"field": "score", "op": ">", "value": 1}, {"field": "nope"}]}]},
        "then": {"tags": ["t"]},
    }
    messages = errors_of(minimal_data(rules=[rule]))
    assert any("when.all[0].any[1]" in m for m in messages), messages


def test_actions_must_reference_known_team_and_do_something() -> None:
    rules = [
        {"name": "to nowhere", "then": {"team": "finanse"}},
        {"name": "idle", "then": {"stop": True}},
    ]
    messages = errors_of(minimal_data(rules=rules))
    assert any("'to nowhere'.then.team" in m and "did you mean 'finance'" in m for m in messages)
    assert any("'idle'.then" in m and "at least one action" in m for m in messages)


def test_agent_errors_name_the_agent_and_field() -> None:
    data = minimal_data()
    data["agents"][1]["teams"] = ["genral"]
    data["agents"][2]["capacity"] = -1
    data["agents"].append({"id": "a1", "name": "Dup", "teams": ["general"]})
    messages = errors_of(data)
    assert any(m.startswith("agents[2] 'f1'.capacity") for m in messages), messages
    data["agents"][2]["capacity"] = 3
    messages = errors_of(data)
    assert any("agents[1] 'a2'.teams[0]" in m and "unknown team 'genral'" in m for m in messages)
    assert any("agents[3] 'a1'.id" in m and "used twice" in m for m in messages)


def test_unknown_keys_are_rejected_not_ignored() -> None:
    data = minimal_data()
    data["agents"][0]["capcity"] = 3
    [message] = errors_of(data)
    assert message == "agents[0] 'a1'.capcity: unknown field"


def test_tiers_must_cover_every_score_in_order() -> None:
    tiers = [{"priority": "p1", "min_score": 50}, {"priority": "p2", "min_score": 70}]
    messages = errors_of(minimal_data(tiers=tiers))
    assert any("higher min_score must give a more urgent priority" in m for m in messages)
    assert any("lowest tier must start at min_score 0" in m for m in messages)


def test_scoring_needs_some_weight_and_caps() -> None:
    data = minimal_data()
    data["scoring"]["weights"] = dict.fromkeys(data["scoring"]["weights"], 0)
    data["scoring"]["deal_value"] = {"scale": "linear"}
    messages = errors_of(data)
    assert any(m.startswith("scoring.weights") for m in messages)
    assert any(m.startswith("scoring.deal_value.cap") for m in messages)


def test_weights_are_normalised_to_sum_one() -> None:
    data = minimal_data()
    data["scoring"]["weights"] = {k: 2.0 for k in data["scoring"]["weights"]}
    config = parse_config(data)
    assert config.scoring.weights["deal_value"] == pytest.approx(0.2)


def test_calendar_problems_are_reported() -> None:
    calendars = [
        {
            "name": "cal",
            "timezone": "Mars/Olympus",
            "hours": {"mon": ["09:00-12:00", "11:00-17:00"]},
        },
        {"name": "bad", "hours": {"funday": ["09:00-17:00"], "tue": ["17:00-09:00"]}},
    ]
    messages = errors_of(minimal_data(calendars=calendars))
    assert any("calendars[0] 'cal'.timezone" in m and "Mars/Olympus" in m for m in messages)
    assert any("calendars[0] 'cal'.hours.mon: time spans overlap" in m for m in messages)
    assert any("calendars[1] 'bad'.hours.funday" in m for m in messages)
    assert any("calendars[1] 'bad'.hours.tue" in m and "start before end" in m for m in messages)


def test_sla_policy_checks() -> None:
    sla = {
        "policies": [
            {
                "name": "p1",
                "first_response": "1h",
                "resolution": "soon",
                "escalations": [{"action": "reassign", "at": 0.5}],
            }
        ]
    }
    messages = errors_of(minimal_data(sla=sla))
    assert any("sla.policies[0] 'p1'.resolution" in m and "duration" in m for m in messages)
    sla["policies"][0]["resolution"] = "1d 4h"
    messages = errors_of(minimal_data(sla=sla))
    assert any("escalations[0]" in m and "needs a 'team' or an 'agent'" in m for m in messages)


def test_durations_parse() -> None:
    sla = {"policies": [{"name": "x", "first_response": "1h30m", "resolution": 90}]}
    config = parse_config(minimal_data(sla=sla))
    assert config.sla_policies[0].first_response == timedelta(minutes=90)
    assert config.sla_policies[0].resolution == timedelta(minutes=90)


def test_all_problems_are_reported_at_once() -> None:
    data = minimal_data(default_team="nobody")
    data["agents"][0]["teams"] = ["ghosts"]
    data["rules"] = [{"name": "r", "when": {"all": [{"field": "x", "op": "=="}]}, "then": {}}]
    assert len(errors_of(data)) >= 4


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("teams:\n  - name: a\n   bad: [\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert "line" in info.value.issues[0].location


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file"):
        load_config(tmp_path / "nope.yaml")


def test_skill_shorthand_and_operators_roundtrip() -> None:
    text = yaml.safe_dump(
        minimal_data(
            rules=[
                {
                    "name": "payout help",
                    "when": {
                        "all": [{"field": "ticket.text", "op": "contains", "value": "PAYOUT"}]
                    },
                    "then": {"team": "finance", "skills": ["payouts:3", {"name": "spanish"}]},
                }
            ]
        )
    )
    config = parse_config_text(text)
    rule = config.rules[0]
    assert rule.when.all[0].op is Op.CONTAINS
    assert rule.when.all[0].value == "payout"  # text tests are case-insensitive
    assert [(s.name, s.level) for s in rule.then.skills] == [("payouts", 3), ("spanish", 1)]


def test_example_file_is_the_one_tested() -> None:
    assert EXAMPLE.exists()


def test_survey_policy_is_read_and_checked() -> None:
    config = parse_config(
        minimal_data(
            surveys={"delay": "2h", "skip_tags": ["spam", "test"], "partner_cooldown": None}
        )
    )
    assert config.surveys.delay == timedelta(hours=2)
    assert config.surveys.skip_tags == {"spam", "test"}
    assert config.surveys.partner_cooldown is None
    problems = errors_of(
        minimal_data(
            surveys={"reminder_after": "8d", "expires_after": "7d", "skip_categories": ["gossip"]}
        )
    )
    assert any(p.startswith("surveys.skip_categories[0]") for p in problems), problems
    problems = errors_of(minimal_data(surveys={"reminder_after": "8d", "expires_after": "7d"}))
    assert any(p.startswith("surveys.reminder_after") for p in problems), problems
    assert any(p.startswith("surveys.delay") for p in errors_of(minimal_data(surveys={"delay": 0})))


def test_bad_anomaly_thresholds_name_their_field(example_data: dict[str, Any]) -> None:
    example_data["anomalies"]["lag"]["min_seconds"] = -1
    example_data["anomalies"]["volume"]["drop_ratio"] = 1.5
    example_data["anomalies"]["duplicate_leads"]["window"] = "soon"
    example_data["anomalies"]["conversion_rate"]["typo"] = 3
    with pytest.raises(ConfigError) as caught:
        parse_config(example_data)
    where = {issue.location for issue in caught.value.issues}
    assert where == {
        "anomalies.lag.min_seconds",
        "anomalies.volume.drop_ratio",
        "anomalies.duplicate_leads.window",
        "anomalies.conversion_rate.typo",
    }


def test_anomaly_thresholds_default_and_keep_old_versions(example_data: dict[str, Any]) -> None:
    with_section = parse_config(example_data)
    del example_data["anomalies"]
    without = parse_config(example_data)
    assert without.anomalies == with_section.anomalies  # the example spells out the defaults
    assert without.version == with_section.version
    example_data["anomalies"] = {"lookback": "7d"}
    with pytest.raises(ConfigError, match=r"anomalies\.lookback"):
        parse_config(example_data)
