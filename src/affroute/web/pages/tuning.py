"""Tuning proposals: run one, accept or dismiss it."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from affroute.api.deps import AppState, StateDep
from affroute.service import tuning
from affroute.service.errors import AffrouteError, NotFoundError
from affroute.service.users import WebUser
from affroute.web.auth import AdminUser, Staff, check_csrf
from affroute.web.pages.common import render

router = APIRouter(include_in_schema=False)


def _tuning_page(
    request: Request, state: AppState, user: WebUser, status: int = 200, **context: Any
) -> HTMLResponse:
    rows = state.uow.run(lambda s: tuning.listed(session=s))
    return render(request, "tuning.html", user, status, active="tuning", proposals=rows, **context)


@router.get("/tuning")
def tuning_page(request: Request, state: StateDep, user: Staff) -> Response:
    return _tuning_page(request, state, user)


@router.post("/tuning/run")
def tuning_run(
    request: Request, state: StateDep, user: Staff, csrf: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(user, csrf)
    now = state.clock()
    since = now - timedelta(days=state.settings.tune_window_days)
    row = state.uow.run(
        lambda s: tuning.propose(session=s, routing=state.cache.current(s), now=now, since=since)
    )
    message = (
        "A new proposal awaits review." if row else "Nothing to propose (or proposed already)."
    )
    return _tuning_page(request, state, user, message=message)


@router.post("/tuning/{proposal_id}/{decision}")
def tuning_decide(
    proposal_id: str,
    decision: str,
    request: Request,
    state: StateDep,
    user: AdminUser,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(user, csrf)
    act = {"accept": tuning.accept, "dismiss": tuning.dismiss}.get(decision)
    if act is None:
        raise NotFoundError(f"no such action {decision!r}")
    now, actor = state.clock(), f"user:{user.username}"
    try:
        row = state.uow.run(lambda s: act(session=s, proposal_id=proposal_id, actor=actor, now=now))
    except AffrouteError as exc:
        return _tuning_page(request, state, user, 409, problem=exc.message)
    done = f"Activated as version {row.applied_version}." if row.applied_version else "Dismissed."
    return _tuning_page(request, state, user, message=done)
