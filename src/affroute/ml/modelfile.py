"""Model files: a zip of a JSON manifest, the vocabulary and NumPy arrays (no pickle).

Loading never runs code from the file, and a scikit-learn upgrade does not break old
files. Anything wrong with a file raises `ModelError` naming the file and the problem, so
a caller can fall back to routing on rules alone.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from affroute.ml.compiled import TicketModel

FORMAT = "affroute-ticket-model"
FORMAT_VERSION = 1
_MANIFEST, _TERMS, _ARRAYS = "manifest.json", "terms.txt", "arrays.npz"
_ARRAY_NAMES = ("idf", "weights", "bias", "calibration_coef", "calibration_intercept")


class ModelError(Exception):
    """A model file that cannot be used: missing, corrupt, of another format or version."""


def save_model(model: TicketModel, path: Path) -> None:
    """Write `model` to `path` (a new file replaces an old one only once it is complete)."""
    terms = "\n".join(model.terms).encode()
    buffer = io.BytesIO()
    np.savez(buffer, **{name: getattr(model, name) for name in _ARRAY_NAMES})
    arrays = buffer.getvalue()
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "classes": model.classes.tolist(),
        "thresholds": model.thresholds.tolist(),
        "text_columns": list(model.text_columns),
        "categorical_columns": list(model.categorical_columns),
        "bucket_edges": {k: v.tolist() for k, v in model.bucket_edges.items()},
        "ngram_range": list(model.ngram_range),
        "fields": list(model.fields),
        "field_weight": model.field_weight,
        "n_terms": len(model.terms),
        "sha256": _digest(terms, arrays),
        "info": model.info,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(_MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False))
        archive.writestr(_TERMS, terms)
        archive.writestr(_ARRAYS, arrays)
    partial.replace(path)


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of a model file (format, classes, thresholds, info), checked."""
    with _open(path) as archive:
        return _manifest(path, archive)


def load_model(path: Path) -> TicketModel:
    """Read a model file; raise `ModelError` naming what is wrong with it."""
    with _open(path) as archive:
        return _load(path, archive)


def model_from_bytes(content: bytes, *, source: str) -> TicketModel:
    """A model file's content as a model (a registry keeps files as bytes); `source`
    names it in errors."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile:
        raise ModelError(f"{source} is not an affroute model file (not a zip archive)") from None
    with archive:
        return _load(source, archive)


def _load(path: Path | str, archive: zipfile.ZipFile) -> TicketModel:
    manifest = _manifest(path, archive)
    terms_bytes = _member(path, archive, _TERMS)
    arrays_bytes = _member(path, archive, _ARRAYS)
    if _digest(terms_bytes, arrays_bytes) != manifest.get("sha256"):
        raise ModelError(f"{path} is corrupt: its vocabulary or weights fail their checksum")
    try:
        with np.load(io.BytesIO(arrays_bytes), allow_pickle=False) as data:
            arrays = {name: np.asarray(data[name], dtype=np.float64) for name in _ARRAY_NAMES}
        terms = tuple(terms_bytes.decode().split("\n")) if terms_bytes else ()
        model = TicketModel(
            classes=np.asarray(manifest["classes"]),
            thresholds=np.asarray(manifest["thresholds"], dtype=np.float64),
            text_columns=tuple(manifest["text_columns"]),
            categorical_columns=tuple(manifest["categorical_columns"]),
            bucket_edges={
                k: np.asarray(v, dtype=np.float64) for k, v in manifest["bucket_edges"].items()
            },
            ngram_range=(int(manifest["ngram_range"][0]), int(manifest["ngram_range"][1])),
            terms=terms,
            fields=tuple(manifest["fields"]),
            field_weight=float(manifest["field_weight"]),
            info=dict(manifest["info"]),
            **arrays,
        )
    except (KeyError, TypeError, ValueError, IndexError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path} is corrupt: {exc}") from None
    _check_shapes(path, model, manifest)
    return model


def _check_shapes(path: Path | str, model: TicketModel, manifest: dict[str, Any]) -> None:
    n_classes = len(model.classes)
    n_scores = 1 if n_classes == 2 else n_classes
    expected = {
        "terms": (len(model.terms), manifest["n_terms"]),
        "idf": (model.idf.shape, (len(model.terms),)),
        "weights": (model.weights.shape, (len(model.terms) + len(model.fields), n_scores)),
        "bias": (model.bias.shape, (n_scores,)),
        "thresholds": (model.thresholds.shape, (n_classes,)),
        "calibration": (model.calibration_coef.shape, (n_scores, n_scores)),
    }
    for name, (found, wanted) in expected.items():
        if found != wanted:
            raise ModelError(f"{path} is inconsistent: {name} has shape {found}, expected {wanted}")


def _open(path: Path) -> zipfile.ZipFile:
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ModelError(f"{path} is not an affroute model file (not a zip archive)") from None


def _member(path: Path | str, archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        return archive.read(name)
    except KeyError:
        raise ModelError(f"{path} is not a complete model file: it has no {name}") from None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ModelError(f"{path} is corrupt: {name} cannot be read ({exc})") from None


def _manifest(path: Path | str, archive: zipfile.ZipFile) -> dict[str, Any]:
    try:
        manifest = json.loads(_member(path, archive, _MANIFEST))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ModelError(f"{path} is corrupt: {_MANIFEST} is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelError(f"{path} is not an affroute ticket model")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelError(
            f"{path} has model format version {version}; "
            f"this affroute reads version {FORMAT_VERSION}: retrain it with `affroute train`"
        )
    return manifest


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()
