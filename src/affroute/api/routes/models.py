"""/api/v1/models: the model registry. Register a model file, list, shadow, promote, demote."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from affroute.api.deps import Admin, AppState, Reader, StateDep, get_state
from affroute.api.errors import ERRORS
from affroute.service import registry
from affroute.service.keys import Principal
from affroute.service.predictor import ModelMode
from affroute.store.models import ModelRow

router = APIRouter(prefix="/api/v1/models", tags=["models"], responses=ERRORS)


class ModelRead(BaseModel):
    id: str
    name: str
    label: str
    mode: str
    classes: list[str]
    fingerprint: str
    sha256: str
    size: int
    metrics: dict[str, Any]
    registered_at: datetime
    registered_by: str
    mode_changed_at: datetime
    mode_changed_by: str
    problem: str | None = None  # why this worker does not use it, if it should and cannot

    @classmethod
    def of(cls, row: ModelRow, problems: dict[str, str] | None = None) -> ModelRead:
        return cls(
            id=row.id,
            name=row.name,
            label=row.label,
            mode=row.mode,
            classes=list(row.classes),
            fingerprint=row.fingerprint,
            sha256=row.sha256,
            size=row.size,
            metrics=row.metrics,
            registered_at=row.registered_at,
            registered_by=row.registered_by,
            mode_changed_at=row.mode_changed_at,
            mode_changed_by=row.mode_changed_by,
            problem=(problems or {}).get(row.id),
        )


_MODEL_FILE = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post("", status_code=201, response_model=ModelRead, openapi_extra=_MODEL_FILE)
async def register_model(
    request: Request,
    principal: Admin,
    name: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> ModelRead:
    """Register a model file from `affroute train` (the file's bytes as the body).

    It starts merely registered; the same file registered again returns the first entry.
    """
    state = get_state(request)
    content = await request.body()
    now, actor = state.clock(), f"key:{principal.key_id}"
    return await run_in_threadpool(
        state.uow.run,
        lambda s: ModelRead.of(
            registry.register(session=s, content=content, name=name, actor=actor, now=now)
        ),
    )


@router.get("", response_model=list[ModelRead])
def list_models(state: StateDep, _: Reader) -> list[ModelRead]:
    """Registered models, newest first, with metrics, classes, fingerprint and mode."""

    def work(session: Session) -> list[ModelRead]:
        problems = state.cache.current(session).models.problems
        return [ModelRead.of(r, problems) for r in registry.listed(session=session)]

    return state.uow.run(work)


@router.get("/{model_id}", response_model=ModelRead)
def get_model(model_id: str, state: StateDep, _: Reader) -> ModelRead:
    def work(session: Session) -> ModelRead:
        problems = state.cache.current(session).models.problems
        return ModelRead.of(registry.get(session=session, model_id=model_id), problems)

    return state.uow.run(work)


def _set_mode(state: AppState, principal: Principal, model_id: str, mode: ModelMode) -> ModelRead:
    now, actor = state.clock(), f"key:{principal.key_id}"
    return state.uow.run(
        lambda s: ModelRead.of(
            registry.set_mode(session=s, model_id=model_id, mode=mode, actor=actor, now=now)
        )
    )


@router.post("/{model_id}/shadow", response_model=ModelRead)
def shadow_model(model_id: str, state: StateDep, principal: Admin) -> ModelRead:
    """Run the model in shadow: it predicts and each decision records it; it never acts."""
    return _set_mode(state, principal, model_id, ModelMode.SHADOW)


@router.post("/{model_id}/promote", response_model=ModelRead)
def promote_model(model_id: str, state: StateDep, principal: Admin) -> ModelRead:
    """Make the model active: it routes where it is confident and no rule decided."""
    return _set_mode(state, principal, model_id, ModelMode.ACTIVE)


@router.post("/{model_id}/demote", response_model=ModelRead)
def demote_model(model_id: str, state: StateDep, principal: Admin) -> ModelRead:
    """Take the model out of use (it stays registered); the rules route alone again."""
    return _set_mode(state, principal, model_id, ModelMode.REGISTERED)
