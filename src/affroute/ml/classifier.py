"""TicketClassifier: a linear SVM on ticket features, calibrated, with per-class thresholds.

Experiments on the Endava help-desk tickets (README, "Predictive routing") found no gain
beyond noise from stacking character n-grams, complement naive Bayes, logistic regression,
k-NN or an MLP with the word SVM, nor from NB-SVM, class weights or per-class offsets,
vectoriser settings, label cleaning or a learnt abstention signal; boosted trees stacked
with the SVM gained about 0.01 macro-F1 and 2 points of coverage, short of the targets
and not yet in the fast path. So the model stays one SVM: its scores, taken
out of fold, are calibrated by a multinomial logistic regression, and the calibrated
probabilities taken out of fold again choose each class's threshold for the target
precision.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from affroute.ml.features import (
    DEFAULT_CATEGORICAL_COLUMNS,
    DEFAULT_NUMERIC_COLUMNS,
    DEFAULT_TEXT_COLUMNS,
    Ticket,
    TicketFeatures,
    as_records,
    fingerprint,
)
from affroute.ml.metrics import choose_thresholds, summarise

# A threshold no probability reaches: the class never acts (and it stays valid JSON).
NEVER = float(np.nextafter(1.0, 2.0))


class TicketClassifier(ClassifierMixin, BaseEstimator):
    """Predicts a ticket's label (team, priority, ...) with a calibrated confidence.

    Parameters
    ----------
    text_columns, categorical_columns, numeric_columns : tuple of str
        The column mapping; structured columns are used when present in training.
    target_precision : float
        Each class's threshold is the lowest confidence at which its held-out
        predictions are still this precise; below it the model abstains.
    C : float
        Regularisation of the linear SVM (smaller is stronger).
    ngram_range, min_df, numeric_bins, field_weight
        Passed to `TicketFeatures`.
    cv : int
        Folds for the out-of-fold scores that calibration and thresholds learn from.
    random_state : int or None
        Seeds the fold shuffling and the SVM.

    Attributes
    ----------
    classes_ : ndarray
        The labels, sorted; `predict_proba` columns follow them.
    thresholds_ : ndarray
        Per class, the confidence at which the model acts (`NEVER`: it never does).
    validation_ : dict
        Held-out (out-of-fold) metrics: macro-F1, coverage and precision at the thresholds.
    data_fingerprint_ : str
        SHA-256 of the columns read and the labels of the training data.
    """

    def __init__(
        self,
        text_columns: tuple[str, ...] = DEFAULT_TEXT_COLUMNS,
        categorical_columns: tuple[str, ...] = DEFAULT_CATEGORICAL_COLUMNS,
        numeric_columns: tuple[str, ...] = DEFAULT_NUMERIC_COLUMNS,
        target_precision: float = 0.95,
        C: float = 0.5,
        ngram_range: tuple[int, int] = (1, 2),
        min_df: int = 2,
        numeric_bins: int = 16,
        field_weight: float = 1.0,
        cv: int = 5,
        random_state: int | None = None,
    ) -> None:
        self.text_columns = text_columns
        self.categorical_columns = categorical_columns
        self.numeric_columns = numeric_columns
        self.target_precision = target_precision
        self.C = C
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.numeric_bins = numeric_bins
        self.field_weight = field_weight
        self.cv = cv
        self.random_state = random_state

    def fit(
        self,
        X: Iterable[Ticket],
        y: Iterable[Any],
        progress: Callable[[str], None] | None = None,
    ) -> TicketClassifier:
        """Learn features, SVM, calibration and thresholds; `progress` hears each step's name."""
        step = progress or (lambda _name: None)
        if not 0.0 < self.target_precision <= 1.0:
            raise ValueError(f"target_precision {self.target_precision} is not in (0, 1]")
        records = as_records(X)
        labels = np.asarray(list(y))
        if labels.ndim != 1 or len(labels) != len(records):
            raise ValueError(f"{len(records)} tickets but {labels.shape} labels")
        counts = Counter(labels.tolist())
        if len(counts) < 2:
            raise ValueError("TicketClassifier needs at least two classes to learn from")
        rare = sorted(str(label) for label, n in counts.items() if n < 2)
        if rare:
            raise ValueError(f"each class needs two or more tickets; these have one: {rare}")
        self.classes_ = np.unique(labels)

        step("features")
        self.features_ = TicketFeatures(
            text_columns=self.text_columns,
            categorical_columns=self.categorical_columns,
            numeric_columns=self.numeric_columns,
            ngram_range=self.ngram_range,
            min_df=self.min_df,
            numeric_bins=self.numeric_bins,
            field_weight=self.field_weight,
        ).fit(records)
        features = self.features_.transform(records)
        folds = StratifiedKFold(
            n_splits=min(self.cv, *counts.values()),
            shuffle=True,
            random_state=self.random_state,
        )

        step("held-out scores")
        held_out_scores = self._as_columns(
            cross_val_predict(self._svm(), features, labels, cv=folds, method="decision_function")
        )
        step("calibration")
        held_out_proba = cross_val_predict(
            self._calibrator(), held_out_scores, labels, cv=folds, method="predict_proba"
        )
        self.calibrator_ = self._calibrator().fit(held_out_scores, labels)
        self.thresholds_ = choose_thresholds(
            held_out_proba, labels, self.classes_, self.target_precision, never=NEVER
        )
        self.validation_ = summarise(held_out_proba, labels, self.classes_, self.thresholds_)

        step("final model")
        self.svm_ = self._svm().fit(features, labels)
        self.data_fingerprint_ = fingerprint(records, labels, self.features_.columns_)
        self.n_train_ = len(records)
        return self

    def decision_function(self, X: Iterable[Ticket]) -> NDArray[np.float64]:
        """The SVM's raw scores, one column per class (one column for two classes)."""
        check_is_fitted(self, "svm_")
        scores: NDArray[np.float64] = self.svm_.decision_function(self.features_.transform(X))
        return scores

    def predict_proba(self, X: Iterable[Ticket]) -> NDArray[np.float64]:
        """Calibrated probabilities; columns follow `classes_`."""
        check_is_fitted(self, "calibrator_")
        proba: NDArray[np.float64] = self.calibrator_.predict_proba(
            self._as_columns(self.decision_function(X))
        )
        return proba

    def predict(self, X: Iterable[Ticket]) -> NDArray[Any]:
        """The most probable label of each ticket (see `decide` for abstention)."""
        best = self.predict_proba(X).argmax(axis=1)
        labels: NDArray[Any] = self.classes_[best]
        return labels

    def decide(self, X: Iterable[Ticket]) -> tuple[NDArray[Any], NDArray[np.float64], NDArray[Any]]:
        """Label, confidence and whether the confidence clears that label's threshold."""
        proba = self.predict_proba(X)
        best = proba.argmax(axis=1)
        confidence = proba[np.arange(len(best)), best]
        return self.classes_[best], confidence, confidence >= self.thresholds_[best]

    def _svm(self) -> LinearSVC:
        return LinearSVC(C=self.C, random_state=self.random_state)

    @staticmethod
    def _calibrator() -> LogisticRegression:
        return LogisticRegression(C=1.0, max_iter=1000)

    @staticmethod
    def _as_columns(scores: NDArray[np.float64]) -> NDArray[np.float64]:
        return scores.reshape(len(scores), -1)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        # Input is a sequence of ticket records or strings, not a numeric matrix.
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
