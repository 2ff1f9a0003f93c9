"""Ticket features: word n-gram TF-IDF of the text columns plus one-hot structured fields.

A ticket is a record (a mapping of column name to value) or a plain string, which is
taken as the whole text. Which columns are text, categorical or numeric is a column
mapping given to the estimator; nothing here knows a particular data set.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

Ticket = Mapping[str, Any] | str

DEFAULT_TEXT_COLUMNS: tuple[str, ...] = ("subject", "body")
DEFAULT_CATEGORICAL_COLUMNS: tuple[str, ...] = (
    "category",
    "channel",
    "region",
    "partner_tier",
    "urgency",
    "promotion_type",
    "open_anomaly",
)
DEFAULT_NUMERIC_COLUMNS: tuple[str, ...] = ("deal_value", "engagement_percentile")
# sklearn's default word token: two or more word characters.
TOKEN_PATTERN = r"(?u)\b\w\w+\b"


def as_records(X: Iterable[Ticket]) -> list[Ticket]:
    """The tickets as a list, each a mapping or a plain string (checked here, not later)."""
    if isinstance(X, str | bytes | Mapping):
        raise TypeError("expected a sequence of tickets (mappings or strings), got a single one")
    records = list(X)
    for index, record in enumerate(records):
        if not isinstance(record, str | Mapping):
            raise TypeError(
                f"ticket {index} is a {type(record).__name__}; expected a mapping or a string"
            )
    return records


def is_missing(value: Any) -> bool:
    """None, NaN and blank strings are missing values."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


def text_of(record: Ticket, columns: Sequence[str]) -> str:
    """The ticket's text columns joined by a space (a string ticket is its own text)."""
    if isinstance(record, str):
        return record
    return " ".join(str(record[c]) for c in columns if c in record and not is_missing(record[c]))


def category_of(value: Any) -> str:
    """A categorical value as the model sees it: trimmed, lower case, '' when missing."""
    if is_missing(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().lower()


def number_of(value: Any) -> float | None:
    """A numeric value, or None when missing or not a number."""
    if is_missing(value) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def bucket_of(value: Any, edges: NDArray[np.float64]) -> str:
    """The bucket of a numeric value between learned edges ('' when missing)."""
    number = number_of(value)
    if number is None:
        return ""
    return str(int(np.searchsorted(edges, number, side="right")))


def field_values(
    record: Ticket,
    categorical_columns: Sequence[str],
    bucket_edges: Mapping[str, NDArray[np.float64]],
) -> dict[str, str]:
    """The structured fields of one ticket as the one-hot encoder reads them."""
    if isinstance(record, str):
        return {}
    values = {c: category_of(record.get(c)) for c in categorical_columns}
    for column, edges in bucket_edges.items():
        values[column] = bucket_of(record.get(column), edges)
    return values


def fingerprint(records: Sequence[Ticket], y: Iterable[Any], columns: Sequence[str]) -> str:
    """A SHA-256 over the columns a model reads and the labels, row by row, in order."""
    digest = hashlib.sha256()
    for record, label in zip(records, y, strict=True):
        if isinstance(record, str):
            row: Any = record
        else:
            row = [None if is_missing(record.get(c)) else str(record.get(c)) for c in columns]
        digest.update(json.dumps([row, str(label)], ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


class TicketFeatures(TransformerMixin, BaseEstimator):
    """Word n-gram TF-IDF of the text plus one-hot categorical fields and numeric buckets.

    Parameters
    ----------
    text_columns : tuple of str
        Columns joined into the ticket text. At least one must be present in training.
    categorical_columns, numeric_columns : tuple of str
        Structured fields, used when present in the training records.
    ngram_range : tuple of int
        Word n-gram sizes of the text vocabulary.
    min_df : int
        A term is kept when it occurs in at least this many training tickets.
    numeric_bins : int
        Numeric fields are cut into up to this many quantile buckets.
    field_weight : float
        Value of a structured field's one-hot column (the text row has unit length).
    """

    def __init__(
        self,
        text_columns: tuple[str, ...] = DEFAULT_TEXT_COLUMNS,
        categorical_columns: tuple[str, ...] = DEFAULT_CATEGORICAL_COLUMNS,
        numeric_columns: tuple[str, ...] = DEFAULT_NUMERIC_COLUMNS,
        ngram_range: tuple[int, int] = (1, 2),
        min_df: int = 2,
        numeric_bins: int = 16,
        field_weight: float = 1.0,
    ) -> None:
        self.text_columns = text_columns
        self.categorical_columns = categorical_columns
        self.numeric_columns = numeric_columns
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.numeric_bins = numeric_bins
        self.field_weight = field_weight

    def fit(self, X: Iterable[Ticket], y: Any = None) -> TicketFeatures:
        """Learn the vocabulary, the IDF weights, the fields present and the bucket edges."""
        records = as_records(X)
        if not records:
            raise ValueError("no tickets to learn features from")
        if self.ngram_range[0] != 1 or self.ngram_range[1] < 1:
            raise ValueError(f"ngram_range {self.ngram_range} must start at 1 (single words)")
        mappings = [r for r in records if not isinstance(r, str)]
        self.text_columns_ = self._present(mappings, self.text_columns)
        if mappings and not self.text_columns_:
            raise ValueError(
                f"none of the text columns {', '.join(self.text_columns)} is in the tickets"
            )
        self.categorical_columns_ = self._present(mappings, self.categorical_columns)
        self.numeric_columns_ = self._present(mappings, self.numeric_columns)
        self.bucket_edges_ = {
            column: self._edges([number_of(r.get(column)) for r in mappings])
            for column in self.numeric_columns_
        }
        texts = [text_of(r, self.text_columns_) for r in records]
        # A tiny or one-word corpus may have no term at min_df; fall back to every term.
        min_df = self.min_df if len(records) >= 2 * self.min_df else 1
        self.text_ = TfidfVectorizer(
            ngram_range=self.ngram_range,
            min_df=min_df,
            sublinear_tf=True,
            token_pattern=TOKEN_PATTERN,
            dtype=np.float64,
        )
        try:
            self.text_.fit(texts)
        except ValueError:  # no term at all: the text carries nothing, the fields decide
            self.text_ = None
        self.fields_ = DictVectorizer(dtype=np.float64).fit(self._field_dicts(records))
        return self

    def transform(self, X: Iterable[Ticket]) -> sp.csr_matrix:
        """The feature matrix: text TF-IDF columns, then the field columns."""
        check_is_fitted(self, "fields_")
        records = as_records(X)
        blocks = []
        if self.text_ is not None:
            blocks.append(self.text_.transform([text_of(r, self.text_columns_) for r in records]))
        blocks.append(self.field_weight * self.fields_.transform(self._field_dicts(records)))
        return sp.csr_matrix(sp.hstack(blocks, format="csr"))

    @property
    def columns_(self) -> tuple[str, ...]:
        """Every column the fitted features read."""
        return self.text_columns_ + self.categorical_columns_ + self.numeric_columns_

    def _field_dicts(self, records: Sequence[Ticket]) -> list[dict[str, str]]:
        return [field_values(r, self.categorical_columns_, self.bucket_edges_) for r in records]

    @staticmethod
    def _present(records: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> tuple[str, ...]:
        return tuple(c for c in columns if any(not is_missing(r.get(c)) for r in records))

    def _edges(self, values: list[float | None]) -> NDArray[np.float64]:
        present = np.array([v for v in values if v is not None], dtype=np.float64)
        if present.size == 0:
            return np.zeros(0)
        quantiles = np.linspace(0.0, 1.0, self.numeric_bins + 1)[1:-1]
        return np.unique(np.quantile(present, quantiles))
