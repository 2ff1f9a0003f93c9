"""/api/v1/config: the active configuration, replacing it, and a dry run of a candidate."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from affroute.api.deps import Admin, Reader, StateDep
from affroute.api.errors import ERRORS
from affroute.api.schemas import ConfigRead, ConfigWrite, DryRunRequest, DryRunResult
from affroute.service import configs

router = APIRouter(prefix="/api/v1/config", tags=["config"], responses=ERRORS)


@router.get("", response_model=ConfigRead)
def get_config(state: StateDep, _: Reader) -> ConfigRead:
    row = state.uow.run(lambda s: configs.get_active(session=s))
    return ConfigRead(
        version=row.version, created_at=row.created_at, created_by=row.created_by, yaml=row.yaml
    )


@router.put("", response_model=ConfigRead)
def put_config(body: ConfigWrite, state: StateDep, principal: Admin) -> ConfigRead:
    """Validate and activate a new configuration (rejected with every problem listed)."""

    def work(session: Session) -> ConfigRead:
        row = configs.activate(
            session=session, yaml_text=body.yaml, actor=principal.key_id, now=state.clock()
        )
        return ConfigRead(
            version=row.version, created_at=row.created_at, created_by=row.created_by, yaml=row.yaml
        )

    return state.uow.run(work)


@router.post("/dry-run", response_model=DryRunResult)
def dry_run(body: DryRunRequest, state: StateDep, _: Reader) -> DryRunResult:
    """Route the last N stored tickets with a candidate configuration; nothing is changed."""

    def work(session: Session) -> DryRunResult:
        result = configs.dry_run(
            session=session, cache=state.cache, yaml_text=body.yaml, last=body.last
        )
        return DryRunResult(
            candidate_version=result.candidate_version,
            compared=result.compared,
            team_changed=result.team_changed,
            priority_changed=result.priority_changed,
            moves=[{"from": a, "to": b, "tickets": n} for (a, b), n in result.moves.most_common()],
            differences=result.differences,
        )

    return state.uow.run(work)
