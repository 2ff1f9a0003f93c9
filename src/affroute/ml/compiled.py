"""The fitted TicketClassifier as plain arrays: the fast path for one ticket and for batches.

scikit-learn's vectorizer and estimators spend about a millisecond on one ticket in
checks and conversions. Here a ticket's terms are looked up in the vocabulary, weighted
as the TF-IDF vectorizer weights them, and multiplied into the SVM's weight rows; the
calibration is one small matrix product. The outputs equal the classifier's
(tests/ml/test_compiled.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from itertools import repeat
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from affroute.ml.classifier import TicketClassifier
from affroute.ml.features import TOKEN_PATTERN, Ticket, as_records, field_values, text_of

# Every ASCII character that is not a word character (a letter, a digit or '_').
_ASCII_NON_WORD = {
    code: " " for code in range(128) if not (chr(code).isalnum() or chr(code) == "_")
}


_REGEX_WORDS = re.compile(TOKEN_PATTERN).findall


def words(text: str) -> list[str]:
    """The TF-IDF vectorizer's words: runs of two or more word characters, lower case.

    ASCII text (most tickets) is split with str methods, about twice as fast as the
    regular expression and equal to it there; other text goes through the expression.
    """
    text = text.lower()
    if text.isascii():
        return [w for w in text.translate(_ASCII_NON_WORD).split() if len(w) > 1]
    found: list[str] = _REGEX_WORDS(text)
    return found


class TicketModel:
    """A compiled ticket classifier: what a model file holds, ready to predict.

    Parameters
    ----------
    classes : ndarray
        Labels, in the order of the probability columns.
    thresholds : ndarray
        Per class, the confidence at which the model acts.
    terms : tuple of str
        The text vocabulary in column order.
    idf : ndarray
        Inverse document frequency of each term.
    fields : tuple of str
        One-hot field columns (``column=value``), after the text columns.
    weights : ndarray
        SVM weights, one row per feature (terms, then fields), one column per score.
    info : dict
        What travels with the model: training-data fingerprint, metrics, parameters.
    """

    def __init__(
        self,
        *,
        classes: NDArray[Any],
        thresholds: NDArray[np.float64],
        text_columns: tuple[str, ...],
        categorical_columns: tuple[str, ...],
        bucket_edges: dict[str, NDArray[np.float64]],
        ngram_range: tuple[int, int],
        terms: tuple[str, ...],
        idf: NDArray[np.float64],
        fields: tuple[str, ...],
        field_weight: float,
        weights: NDArray[np.float64],
        bias: NDArray[np.float64],
        calibration_coef: NDArray[np.float64],
        calibration_intercept: NDArray[np.float64],
        info: dict[str, Any] | None = None,
    ) -> None:
        self.classes = classes
        self.thresholds = thresholds
        self.text_columns = text_columns
        self.categorical_columns = categorical_columns
        self.bucket_edges = bucket_edges
        self.ngram_range = ngram_range
        self.terms = terms
        self.idf = idf
        self.fields = fields
        self.field_weight = field_weight
        self.weights = weights
        self.bias = bias
        self.calibration_coef = calibration_coef
        self.calibration_intercept = calibration_intercept
        self.info = info or {}
        # Lookup tables, built once. A term not in the vocabulary maps to one extra column
        # of zero IDF and zero weight, so lookups need no branch and add nothing.
        n_text = len(terms)
        self._unknown = n_text
        self._term_index = {t: i for i, t in enumerate(terms)}
        self._field_index = {f: i for i, f in enumerate(fields)}
        self._idf = np.append(idf, 0.0)
        self._text_weights = np.vstack([weights[:n_text], np.zeros((1, weights.shape[1]))])
        self._field_weights = weights[n_text:] * field_weight
        self._gram_keys, self._gram_columns = self._gram_table()

    def _gram_table(self) -> tuple[NDArray[np.int64], NDArray[np.intp]]:
        """Sorted integer keys of the multi-word terms and their columns."""
        base = len(self.terms) + 1
        if base ** self.ngram_range[1] >= 2**63:
            raise ValueError(f"{len(self.terms)} terms are too many for {self.ngram_range}")
        keys: list[int] = []
        columns: list[int] = []
        for column, term in enumerate(self.terms):
            words = term.split(" ")
            if len(words) < 2:
                continue
            key = 0
            for word in words:
                if word not in self._term_index:
                    raise ValueError(f"term {term!r} has a word outside the vocabulary")
                key = key * base + self._term_index[word]
            keys.append(key)
            columns.append(column)
        order = np.argsort(np.asarray(keys, dtype=np.int64), kind="stable")
        return (
            np.asarray(keys, dtype=np.int64)[order],
            np.asarray(columns, dtype=np.intp)[order],
        )

    @classmethod
    def from_classifier(cls, model: TicketClassifier, **info: Any) -> TicketModel:
        """Compile a fitted classifier; `info` (fingerprint, metrics, ...) travels with it."""
        features = model.features_
        vectorizer = features.text_
        if vectorizer is None:
            terms: tuple[str, ...] = ()
            idf = np.zeros(0)
        else:
            vocabulary = vectorizer.vocabulary_
            terms = tuple(sorted(vocabulary, key=vocabulary.__getitem__))
            idf = np.asarray(vectorizer.idf_, dtype=np.float64)
        encoder = features.fields_
        fields = tuple(sorted(encoder.vocabulary_, key=encoder.vocabulary_.__getitem__))
        return cls(
            classes=model.classes_,
            thresholds=np.asarray(model.thresholds_, dtype=np.float64),
            text_columns=features.text_columns_,
            categorical_columns=features.categorical_columns_,
            bucket_edges=dict(features.bucket_edges_),
            ngram_range=(int(features.ngram_range[0]), int(features.ngram_range[1])),
            terms=terms,
            idf=idf,
            fields=fields,
            field_weight=float(features.field_weight),
            weights=np.ascontiguousarray(model.svm_.coef_.T, dtype=np.float64),
            bias=np.asarray(model.svm_.intercept_, dtype=np.float64),
            calibration_coef=np.asarray(model.calibrator_.coef_, dtype=np.float64),
            calibration_intercept=np.asarray(model.calibrator_.intercept_, dtype=np.float64),
            info=info,
        )

    # -- one ticket -----------------------------------------------------------------------

    def predict_one(self, ticket: Ticket) -> tuple[Any, float, float]:
        """The label, its calibrated confidence and its threshold for one ticket."""
        proba = self.proba_one(ticket)
        best = int(proba.argmax())
        return self.classes[best], float(proba[best]), float(self.thresholds[best])

    def proba_one(self, ticket: Ticket) -> NDArray[np.float64]:
        """Calibrated probabilities of one ticket; equal to the classifier's row."""
        counts: dict[int, int] = {}
        for term in self._term_ids(text_of(ticket, self.text_columns)):
            counts[term] = counts.get(term, 0) + 1
        counts.pop(self._unknown, None)
        scores = self.bias.copy()
        if counts:
            index = np.fromiter(counts, dtype=np.intp, count=len(counts))
            tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
            weight = (np.log(tf) + 1.0) * self._idf[index]
            weight /= math.sqrt(weight @ weight)
            scores += weight @ self._text_weights[index]
        fields = self._field_ids(ticket)
        if fields:
            scores += self._field_weights[fields].sum(axis=0)
        proba: NDArray[np.float64] = self._calibrate(scores[None, :])[0]
        return proba

    # -- many tickets ---------------------------------------------------------------------

    def predict_proba(self, tickets: Iterable[Ticket]) -> NDArray[np.float64]:
        """Calibrated probabilities, one row per ticket; columns follow `classes`."""
        records = as_records(tickets)
        rows, columns = self._term_columns([text_of(r, self.text_columns) for r in records])
        counts = sp.csr_matrix(
            (np.ones(len(rows)), (rows, columns)), shape=(len(records), len(self.terms))
        )  # duplicates are summed: repeated terms become counts
        tfidf = counts
        tfidf.data = (np.log(tfidf.data) + 1.0) * self.idf[tfidf.indices]
        norms = np.sqrt(np.asarray(tfidf.multiply(tfidf).sum(axis=1)).ravel())
        tfidf.data /= np.repeat(np.where(norms > 0, norms, 1.0), np.diff(tfidf.indptr))
        scores = np.asarray(tfidf @ self.weights[: len(self.terms)]) + self.bias
        field_rows: list[int] = []
        field_columns: list[int] = []
        for row, record in enumerate(records):
            found = self._field_ids(record)
            field_rows.extend([row] * len(found))
            field_columns.extend(found)
        if field_rows:
            onehot = sp.csr_matrix(
                (np.ones(len(field_rows)), (field_rows, field_columns)),
                shape=(len(records), len(self.fields)),
            )
            scores += onehot @ self._field_weights
        return self._calibrate(scores)

    def _term_columns(self, texts: list[str]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """Row and vocabulary column of every known n-gram of the texts, repeats kept.

        Words are looked up one by one; longer n-grams are found all at once as integer
        keys (the words' columns as digits in base len(terms) + 1), which is what makes a
        batch several times cheaper than looking up joined strings.
        """
        lookup, unknown = self._term_index.get, repeat(self._unknown)
        tokens: list[int] = []
        lengths = [0]
        for text in texts:
            before = len(tokens)
            tokens.extend(map(lookup, words(text), unknown))
            lengths.append(len(tokens) - before)
        word_ids = np.asarray(tokens, dtype=np.int64)
        word_rows = np.repeat(np.arange(len(texts)), lengths[1:])
        low, high = self.ngram_range
        rows: list[NDArray[np.intp]] = []
        columns: list[NDArray[np.intp]] = []
        if low == 1:
            known = word_ids != self._unknown
            rows.append(word_rows[known])
            columns.append(word_ids[known])
        base = self._unknown + 1
        for n in range(max(low, 2), high + 1):
            count = len(word_ids) - n + 1
            if count <= 0 or not len(self._gram_keys):
                break
            keys = word_ids[:count].copy()
            for offset in range(1, n):
                keys = keys * base + word_ids[offset : offset + count]
            at = np.minimum(np.searchsorted(self._gram_keys, keys), len(self._gram_keys) - 1)
            found = (self._gram_keys[at] == keys) & (word_rows[:count] == word_rows[n - 1 :])
            rows.append(word_rows[:count][found])
            columns.append(self._gram_columns[at[found]])
        if not rows:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
        return np.concatenate(rows), np.concatenate(columns)

    def predict(self, tickets: Iterable[Ticket]) -> NDArray[Any]:
        """The most probable label of each ticket."""
        labels: NDArray[Any] = self.classes[self.predict_proba(tickets).argmax(axis=1)]
        return labels

    # -- shared ---------------------------------------------------------------------------

    def _term_ids(self, text: str) -> list[int]:
        """Vocabulary columns of the text's n-grams (the TF-IDF analyzer's), repeats kept;
        unknown n-grams map to the zero column."""
        tokens: list[str] = words(text)
        lookup, unknown = self._term_index.get, repeat(self._unknown)
        low, high = self.ngram_range
        ids: list[int] = []
        for n in range(low, high + 1):
            # The shifted copies differ in length: zip stops at the shortest on purpose.
            shifted = (tokens[i:] for i in range(n))
            grams = tokens if n == 1 else map(" ".join, zip(*shifted, strict=False))
            ids.extend(map(lookup, grams, unknown))
        return ids

    def _field_ids(self, ticket: Ticket) -> list[int]:
        values = field_values(ticket, self.categorical_columns, self.bucket_edges)
        lookup = self._field_index.get
        return [j for j in (lookup(f"{k}={v}") for k, v in values.items()) if j is not None]

    def _calibrate(self, scores: NDArray[np.float64]) -> NDArray[np.float64]:
        logits = scores @ self.calibration_coef.T + self.calibration_intercept
        if logits.shape[1] == 1:  # two classes: logistic on one logit
            positive = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            return np.column_stack([1.0 - positive, positive])
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        proba /= proba.sum(axis=1, keepdims=True)
        return proba
