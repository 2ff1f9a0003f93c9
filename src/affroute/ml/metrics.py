"""Quality of a classifier that may abstain: thresholds, coverage, precision, F1."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support


def coverage_curve(
    confidence: NDArray[np.float64], correct: NDArray[np.bool_]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Acting on the most confident first: thresholds, coverage and precision at each.

    Tied confidences are taken together, so every point is a threshold one can set.
    """
    order = np.argsort(-confidence, kind="stable")
    conf = confidence[order]
    hits = np.cumsum(correct[order])
    # The last index of each run of equal confidence.
    ends = np.flatnonzero(np.r_[conf[1:] != conf[:-1], True])
    taken = ends + 1
    return conf[ends], taken / len(conf), hits[ends] / taken


def choose_thresholds(
    proba: NDArray[np.float64],
    y: NDArray[Any],
    classes: NDArray[Any],
    target_precision: float,
    *,
    never: float,
) -> NDArray[np.float64]:
    """Per class, the lowest confidence at which the predictions of that class, taken from
    the most confident down, are still at least `target_precision` correct (else `never`)."""
    best = proba.argmax(axis=1)
    confidence = proba[np.arange(len(best)), best]
    correct = classes[best] == y
    thresholds = np.full(len(classes), never)
    for index in range(len(classes)):
        mine = best == index
        if not mine.any():
            continue
        levels, _, precision = coverage_curve(confidence[mine], correct[mine])
        good = np.flatnonzero(precision >= target_precision)
        if good.size:
            thresholds[index] = levels[good[-1]]
    return thresholds


@dataclass(frozen=True, slots=True)
class ClassReport:
    label: str
    precision: float
    recall: float
    f1: float
    support: int
    threshold: float
    coverage: float  # share of the tickets predicted as this class that the model acts on


@dataclass(frozen=True, slots=True)
class Report:
    """What a user checks before letting a model route: accuracy, F1, and what it acts on."""

    n: int
    accuracy: float
    macro_f1: float
    coverage: float  # share of all tickets on which the model acts
    precision_acted: float  # share of those it got right
    classes: tuple[ClassReport, ...]
    labels: tuple[str, ...]
    confusion: tuple[tuple[int, ...], ...]  # rows: true label, columns: predicted

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "coverage": self.coverage,
            "precision_acted": self.precision_acted,
            "classes": [
                {
                    "label": c.label,
                    "precision": c.precision,
                    "recall": c.recall,
                    "f1": c.f1,
                    "support": c.support,
                    "threshold": c.threshold,
                    "coverage": c.coverage,
                }
                for c in self.classes
            ],
            "confusion": {"labels": list(self.labels), "matrix": [list(r) for r in self.confusion]},
        }


def summarise(
    proba: NDArray[np.float64],
    y: NDArray[Any],
    classes: NDArray[Any],
    thresholds: NDArray[np.float64],
) -> Report:
    """Per-class precision, recall and F1, macro-F1, coverage and precision where it acts."""
    y = np.asarray(y)
    best = proba.argmax(axis=1)
    predicted = classes[best]
    confidence = proba[np.arange(len(best)), best]
    acted = confidence >= thresholds[best]
    labels = np.unique(np.concatenate([classes, y]))
    precision, recall, f1, support = precision_recall_fscore_support(
        y, predicted, labels=labels, zero_division=0
    )
    index = {label: i for i, label in enumerate(classes.tolist())}
    rows = []
    for i, label in enumerate(labels.tolist()):
        mine = predicted == label
        rows.append(
            ClassReport(
                label=str(label),
                precision=float(precision[i]),
                recall=float(recall[i]),
                f1=float(f1[i]),
                support=int(support[i]),
                threshold=float(thresholds[index[label]]) if label in index else 1.0,
                coverage=float(acted[mine].mean()) if mine.any() else 0.0,
            )
        )
    matrix = confusion_matrix(y, predicted, labels=labels)
    return Report(
        n=len(y),
        accuracy=float((predicted == y).mean()),
        macro_f1=float(f1_score(y, predicted, labels=labels, average="macro", zero_division=0)),
        coverage=float(acted.mean()),
        precision_acted=float((predicted == y)[acted].mean()) if acted.any() else 1.0,
        classes=tuple(rows),
        labels=tuple(str(label) for label in labels),
        confusion=tuple(tuple(int(v) for v in row) for row in matrix),
    )
