"""The simulator: run the API's comparison and show it with a chart."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from affroute.api.deps import StateDep
from affroute.service import simulations
from affroute.service.errors import AffrouteError
from affroute.service.users import WebUser
from affroute.sim.report import METRICS
from affroute.web.auth import Staff, check_csrf
from affroute.web.pages.common import bar, problems, render

router = APIRouter(include_in_schema=False)


@dataclass
class SimulationForm:
    arrivals: str = "generated"
    tickets: int = 2_000
    days: int = 7
    seeds: int = 3
    baselines: bool = True
    candidate: str = ""


def _simulate_page(
    request: Request, user: WebUser, form: SimulationForm, status: int = 200, **context: Any
) -> HTMLResponse:
    return render(
        request, "simulate.html", user, status, active="simulate", form=form,
        metrics=list(METRICS.items()), max_tickets=simulations.MAX_TICKETS,
        max_days=int(simulations.MAX_DAYS), max_seeds=simulations.MAX_SEEDS, **context,
    )  # fmt: skip


@router.get("/simulate")
def simulate_page(request: Request, user: Staff) -> Response:
    return _simulate_page(request, user, SimulationForm())


@router.post("/simulate")
def simulate_run(
    request: Request,
    state: StateDep,
    user: Staff,
    csrf: Annotated[str, Form()] = "",
    arrivals: Annotated[str, Form()] = "generated",
    tickets: Annotated[int, Form(ge=1)] = 2_000,
    days: Annotated[int, Form(ge=1)] = 7,
    seeds: Annotated[int, Form(ge=1)] = 3,
    baselines: Annotated[bool, Form()] = False,
    candidate: Annotated[str, Form(max_length=200_000)] = "",
) -> Response:
    """Run a comparison as the API's POST /simulations does, and show it."""
    check_csrf(user, csrf)
    form = SimulationForm(arrivals, tickets, days, seeds, baselines, candidate)
    now = state.clock()
    yaml_text = candidate.replace("\r\n", "\n").strip()
    spec = simulations.SimulationSpec(
        arrivals="stored" if arrivals == "stored" else "generated",
        tickets=tickets,
        days=float(days),
        since=now - timedelta(days=days) if arrivals == "stored" else None,
        until=None,
        candidates=[simulations.Candidate("candidate", yaml_text)] if yaml_text else [],
        baselines=baselines,
        seeds=seeds,
        seed=0,
    )
    try:
        result = simulations.run(uow=state.uow, cache=state.cache, spec=spec, now=now)
    except AffrouteError as exc:
        problem = "; ".join(problems(exc))
        return _simulate_page(request, user, form, 422, problem=problem)
    names = list(result.table)
    breach = [result.table[p]["sla_breach_rate"].mean for p in names]
    shown = [None if math.isnan(b) else round(100 * b, 2) for b in breach]
    breach_chart = bar(names, shown, "% breached")
    return _simulate_page(
        request, user, form, result=result, policies=names, breach_chart=breach_chart
    )
