"""TicketClassifier keeps the scikit-learn estimator contract and abstains below its
thresholds.

scikit-learn's own estimator checks run where they apply. The rest of them feed numeric
matrices from make_blobs; TicketClassifier reads ticket records (text and named fields),
so those checks cannot apply (check_estimator skips every check for an estimator whose
input tag is not a 2-D array). What they verify is asserted below on ticket records:
fit returns self, classes_ and the probability columns, predict agrees with
predict_proba, random_state makes fits repeatable, fit leaves the parameters alone, one
class is refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks

from affroute.ml.classifier import NEVER, TicketClassifier
from tests.ml.conftest import Split

APPLICABLE_CHECKS = (
    "check_no_attributes_set_in_init",
    "check_parameters_default_constructible",
    "check_get_params_invariance",
    "check_set_params",
    "check_estimator_cloneable",
    "check_estimator_repr",
    "check_estimator_tags_renamed",
    "check_valid_tag_types",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_estimators_unfitted",
    "check_mixin_order",
)


@pytest.mark.parametrize("check", APPLICABLE_CHECKS)
def test_scikit_learn_estimator_checks_that_apply(check: str) -> None:
    getattr(estimator_checks, check)("TicketClassifier", TicketClassifier())


def test_fit_returns_the_fitted_estimator_and_probabilities_follow_classes(
    team_split: Split, team_model: TicketClassifier
) -> None:
    assert list(team_model.classes_) == sorted(set(team_split.y_train))
    proba = team_model.predict_proba(team_split.test)
    assert proba.shape == (len(team_split.test), len(team_model.classes_))
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert (team_model.predict(team_split.test) == team_model.classes_[proba.argmax(1)]).all()


def test_team_is_learnt_from_text_and_facts(
    team_split: Split, team_model: TicketClassifier
) -> None:
    accuracy = (team_model.predict(team_split.test) == team_split.y_test).mean()
    assert accuracy > 0.9
    assert "deal_value" in team_model.features_.columns_
    assert "partner_tier" in team_model.features_.columns_


def test_same_random_state_same_model_and_parameters_untouched(team_split: Split) -> None:
    small = team_split.train[:400], team_split.y_train[:400]
    model = TicketClassifier(random_state=3, cv=3)
    params = model.get_params()
    first = model.fit(*small)
    assert first is model
    assert model.get_params() == params
    again = clone(model).fit(*small)
    assert np.array_equal(
        first.predict_proba(team_split.test), again.predict_proba(team_split.test)
    )
    with pytest.raises(NotFittedError):
        clone(model).predict(team_split.test)


def test_plain_strings_and_two_classes() -> None:
    texts = [f"payout missing for invoice {i}" for i in range(20)] + [
        f"cannot log in to the portal {i}" for i in range(20)
    ]
    labels = ["finance"] * 20 + ["general"] * 20
    model = TicketClassifier(random_state=0).fit(texts, labels)
    assert list(model.predict(["where is my payout", "portal log in fails"])) == [
        "finance",
        "general",
    ]
    assert model.predict_proba(["payout"]).shape == (1, 2)


def test_one_class_or_one_example_of_a_class_is_refused() -> None:
    with pytest.raises(ValueError, match="at least two classes"):
        TicketClassifier().fit(["a b", "c d"], ["x", "x"])
    with pytest.raises(ValueError, match="these have one: \\['y'\\]"):
        TicketClassifier().fit(["a b", "c d", "e f"], ["x", "x", "y"])


def test_missing_text_columns_are_named() -> None:
    with pytest.raises(ValueError, match="none of the text columns subject, body"):
        TicketClassifier().fit([{"title": "x"}, {"title": "y"}] * 3, ["a", "b"] * 3)


def test_the_model_acts_only_at_or_above_its_class_threshold(
    team_split: Split, team_model: TicketClassifier
) -> None:
    labels, confidence, acted = team_model.decide(team_split.test)
    index = np.searchsorted(team_model.classes_, labels)
    assert (acted == (confidence >= team_model.thresholds_[index])).all()
    assert 0 < acted.mean() <= 1
    # Held out during fit, the thresholds met their target precision.
    report = team_model.validation_
    assert report.precision_acted >= team_model.target_precision
    for row in report.classes:
        assert row.threshold == NEVER or 0.0 <= row.threshold <= 1.0


def test_a_stricter_target_never_acts_on_more_tickets(team_split: Split) -> None:
    data: tuple[Any, Any] = (team_split.train, team_split.y_train)
    loose = TicketClassifier(target_precision=0.8, random_state=0, cv=3).fit(*data)
    strict = TicketClassifier(target_precision=0.99, random_state=0, cv=3).fit(*data)
    assert (strict.thresholds_ >= loose.thresholds_).all()
    assert strict.decide(team_split.test)[2].sum() <= loose.decide(team_split.test)[2].sum()
