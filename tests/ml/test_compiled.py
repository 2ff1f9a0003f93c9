"""The compiled fast path gives the fitted classifier's probabilities, one ticket or many."""

from __future__ import annotations

import re

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from affroute.ml.classifier import TicketClassifier
from affroute.ml.compiled import TicketModel, words
from affroute.ml.features import TOKEN_PATTERN
from tests.ml.conftest import Split


def test_batch_and_one_ticket_equal_the_classifier(
    team_split: Split, team_model: TicketClassifier
) -> None:
    fast = TicketModel.from_classifier(team_model)
    # Unseen values and missing fields take the same path as in the classifier.
    odd = dict(team_split.test[0], region="MARS", deal_value=None, subject="Ünïcode café")
    tickets = [*team_split.test, odd, {"body": ""}, "just a string ticket"]
    expected = team_model.predict_proba(tickets)
    assert np.allclose(fast.predict_proba(tickets), expected, rtol=0, atol=1e-12)
    for ticket, row in zip(tickets, expected, strict=True):
        assert np.allclose(fast.proba_one(ticket), row, rtol=0, atol=1e-12)
    label, confidence, threshold = fast.predict_one(team_split.test[0])
    best = int(expected[0].argmax())
    assert (label, threshold) == (team_model.classes_[best], team_model.thresholds_[best])
    assert confidence == float(expected[0, best]) or abs(confidence - expected[0, best]) < 1e-12


def test_two_classes_and_trigrams_equal_the_classifier() -> None:
    texts = [f"payout missing for invoice number {i % 7}" for i in range(30)] + [
        f"cannot log in to the partner portal today {i % 5}" for i in range(30)
    ]
    labels = ["finance"] * 30 + ["general"] * 30
    model = TicketClassifier(ngram_range=(1, 3), random_state=0).fit(texts, labels)
    fast = TicketModel.from_classifier(model)
    probe = ["payout missing for the portal", "log in to the partner portal", ""]
    assert np.allclose(fast.predict_proba(probe), model.predict_proba(probe), atol=1e-12)
    assert np.allclose(fast.proba_one(probe[0]), model.predict_proba(probe[:1])[0], atol=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60) | st.from_regex(r"[ -~]{0,60}"))
def test_words_are_the_vectorizers_words(text: str) -> None:
    assert words(text) == re.findall(TOKEN_PATTERN, text.lower())
