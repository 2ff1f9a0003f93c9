"""/api/v1/tuning: the tuner's proposals from stored outcomes, to accept or dismiss."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from affroute.api.deps import Admin, Reader, StateDep
from affroute.api.errors import ERRORS
from affroute.service import tuning
from affroute.store.models import TuningProposalRow

router = APIRouter(prefix="/api/v1/tuning", tags=["tuning"], responses=ERRORS)


class ProposalRead(BaseModel):
    id: str
    created_at: datetime
    status: str
    base_version: str
    applied_version: str | None
    decided_by: str | None
    decided_at: datetime | None
    report: dict[str, Any]
    proposed_yaml: str

    @classmethod
    def of(cls, row: TuningProposalRow) -> ProposalRead:
        return cls.model_validate(row, from_attributes=True)


class TuningRun(BaseModel):
    proposal: ProposalRead | None
    message: str


@router.get("/proposals", response_model=list[ProposalRead])
def list_proposals(
    state: StateDep, _: Reader, status: Annotated[str | None, Query(max_length=16)] = None
) -> list[ProposalRead]:
    """Proposals, newest first: each with its evidence, expected effect and config diff."""
    return state.uow.run(
        lambda s: [ProposalRead.of(r) for r in tuning.listed(session=s, status=status)]
    )


@router.post("/run", response_model=TuningRun)
def run_tuner(
    state: StateDep,
    _: Reader,
    days: Annotated[int, Query(ge=1, le=3650, description="outcomes of tickets this recent")] = 90,
) -> TuningRun:
    """Run the tuner now on stored outcomes; a changed configuration becomes a proposal."""
    now = state.clock()
    row = state.uow.run(
        lambda s: tuning.propose(
            session=s, routing=state.cache.current(s), now=now, since=now - timedelta(days=days)
        )
    )
    if row is None:
        return TuningRun(proposal=None, message="nothing to propose (or proposed already)")
    return TuningRun(proposal=ProposalRead.of(row), message="a new proposal awaits review")


@router.post("/proposals/{proposal_id}/accept", response_model=ProposalRead)
def accept(proposal_id: str, state: StateDep, principal: Admin) -> ProposalRead:
    """Activate the proposed configuration (only if the one it was made from is still active)."""
    now = state.clock()
    actor = f"key:{principal.key_id}"
    return state.uow.run(
        lambda s: ProposalRead.of(
            tuning.accept(session=s, proposal_id=proposal_id, actor=actor, now=now)
        )
    )


@router.post("/proposals/{proposal_id}/dismiss", response_model=ProposalRead)
def dismiss(proposal_id: str, state: StateDep, principal: Admin) -> ProposalRead:
    now = state.clock()
    actor = f"key:{principal.key_id}"
    return state.uow.run(
        lambda s: ProposalRead.of(
            tuning.dismiss(session=s, proposal_id=proposal_id, actor=actor, now=now)
        )
    )
