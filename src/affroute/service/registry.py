"""The model registry: register ticket model files, run one in shadow, promote, demote.

A model file is stored whole in the database, so every worker loads the same bytes; each
change bumps the ``models`` counter, and every worker's routing cache reloads on its next
request (see ``affroute.service.runtime``).
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from affroute.ml.modelfile import ModelError, model_from_bytes
from affroute.service.errors import InvalidInputError, NotFoundError
from affroute.service.predictor import ModelMode, check_classes
from affroute.service.runtime import MODELS_COUNTER, active_config, bump
from affroute.store.models import ModelRow


def register(
    *, session: Session, content: bytes, name: str | None, actor: str, now: datetime
) -> ModelRow:
    """Check and store a model file; the same bytes registered again return the first row."""
    digest = hashlib.sha256(content).hexdigest()
    existing = session.scalars(select(ModelRow).where(ModelRow.sha256 == digest)).first()
    if existing is not None:
        return existing
    try:
        model = model_from_bytes(content, source=name or "the uploaded file")
    except ModelError as exc:
        raise InvalidInputError(str(exc), {"field": "file"}) from None
    info = model.info
    model_id = digest[:12]
    row = ModelRow(
        id=model_id,
        name=(name or f"{info.get('label', 'model')}-{model_id[:6]}")[:64],
        sha256=digest,
        label=str(info.get("label", "")),
        mode=ModelMode.REGISTERED.value,
        classes=[str(c) for c in model.classes.tolist()],
        fingerprint=str(info.get("fingerprint", "")),
        metrics=_json_safe(info.get("held_out", {})),
        size=len(content),
        content=content,
        registered_at=now,
        registered_by=actor,
        mode_changed_at=now,
        mode_changed_by=actor,
    )
    session.add(row)
    session.flush()
    return row


def _json_safe(value: Any) -> Any:
    """Metrics as JSON both databases accept (PostgreSQL refuses NaN and infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def listed(*, session: Session) -> list[ModelRow]:
    """Every registered model, newest first."""
    return list(
        session.scalars(select(ModelRow).order_by(ModelRow.registered_at.desc(), ModelRow.id))
    )


def get(*, session: Session, model_id: str) -> ModelRow:
    row = session.get(ModelRow, model_id)
    if row is None:
        raise NotFoundError(f"model {model_id!r} is not registered")
    return row


def set_mode(
    *, session: Session, model_id: str, mode: ModelMode, actor: str, now: datetime
) -> ModelRow:
    """Put a model in shadow, make it active, or demote it to merely registered.

    The model that held the mode for the same label before steps down to registered.
    A model whose classes the active configuration cannot use is refused.
    """
    row = get(session=session, model_id=model_id)
    if row.mode == mode.value:
        return row
    if mode is not ModelMode.REGISTERED:
        try:
            check_classes(row.label, list(row.classes), active_config(session))
        except ModelError as exc:
            raise InvalidInputError(
                f"model {model_id} cannot be put in {mode.value} mode: {exc}",
                {"field": "mode", "classes": row.classes, "label": row.label},
            ) from None
        session.execute(
            update(ModelRow)
            .where(ModelRow.label == row.label, ModelRow.mode == mode.value)
            .values(mode=ModelMode.REGISTERED.value, mode_changed_at=now, mode_changed_by=actor)
        )
        session.flush()
        session.refresh(row)
    row.mode = mode.value
    row.mode_changed_at = now
    row.mode_changed_by = actor
    bump(session, MODELS_COUNTER)
    session.flush()
    return row
