"""/api/v1/simulations: try the active configuration, candidates and baselines on the same
arrivals before anything goes live. Synchronous, so every request is size-capped."""

from __future__ import annotations

import math
from typing import Literal

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from affroute.api.deps import Reader, StateDep
from affroute.api.errors import ERRORS
from affroute.service import simulations
from affroute.sim.report import METRICS, Estimate

router = APIRouter(prefix="/api/v1/simulations", tags=["simulations"], responses=ERRORS)


class CandidateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    yaml: str = Field(min_length=1, max_length=200_000, description="a full configuration")


class SimulationCreate(BaseModel):
    """What to simulate. Generated arrivals use ``tickets`` and ``days``; stored ones are the
    tickets created from ``since`` to ``until`` (default: now), simulated over that period."""

    model_config = ConfigDict(extra="forbid")

    arrivals: Literal["generated", "stored"] = "generated"
    tickets: int = Field(2_000, ge=1, le=simulations.MAX_TICKETS)
    days: float = Field(7.0, gt=0, le=simulations.MAX_DAYS)
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    candidates: list[CandidateConfig] = Field(
        default_factory=list, max_length=simulations.MAX_CANDIDATES
    )
    baselines: bool = Field(False, description="add FIFO, round robin and least loaded")
    seeds: int = Field(3, ge=1, le=simulations.MAX_SEEDS, description="replications per policy")
    seed: int = Field(0, ge=0, le=2**32 - 1)


class EstimateRead(BaseModel):
    """A mean over seeds and the half-width of its 95% confidence interval (null: undefined)."""

    mean: float | None
    ci95: float | None
    seeds: int

    @classmethod
    def of(cls, estimate: Estimate) -> EstimateRead:
        def finite(x: float) -> float | None:
            return None if math.isnan(x) else x

        return cls(
            mean=finite(estimate.mean), ci95=finite(estimate.half_width), seeds=estimate.seeds
        )


class PolicyRead(BaseModel):
    name: str
    kind: str
    metrics: dict[str, EstimateRead]


class SimulationRead(BaseModel):
    arrivals: int
    agents: int
    days: float
    seeds: int
    metrics: dict[str, str] = Field(description="metric key -> label, in table order")
    policies: list[PolicyRead]


@router.post("", response_model=SimulationRead)
def create_simulation(body: SimulationCreate, state: StateDep, _: Reader) -> SimulationRead:
    """Run the comparison now and return it: each policy's metrics with 95% CIs over seeds.

    Synchronous: a request is capped at 100,000 simulated tickets (arrivals x policies x
    seeds), a few seconds of one core; ``since``/``until`` name a period of stored tickets.
    """
    spec = simulations.SimulationSpec(
        arrivals=body.arrivals,
        tickets=body.tickets,
        days=body.days,
        since=body.since,
        until=body.until,
        candidates=[simulations.Candidate(c.name, c.yaml) for c in body.candidates],
        baselines=body.baselines,
        seeds=body.seeds,
        seed=body.seed,
    )
    result = simulations.run(uow=state.uow, cache=state.cache, spec=spec, now=state.clock())
    return SimulationRead(
        arrivals=result.arrivals,
        agents=result.agents,
        days=result.days,
        seeds=result.seeds,
        metrics=dict(METRICS),
        policies=[
            PolicyRead(
                name=name,
                kind=result.kinds[name],
                metrics={m: EstimateRead.of(e) for m, e in row.items()},
            )
            for name, row in result.table.items()
        ],
    )
