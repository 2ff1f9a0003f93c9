"""Attribution anomalies: the list by status, detected and resolved week by week."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from affroute.api.deps import AppState, StateDep
from affroute.domain import AnomalyStatus
from affroute.service import anomalies
from affroute.service.errors import InvalidInputError, NotFoundError
from affroute.service.users import WebUser
from affroute.web.auth import Staff, check_csrf
from affroute.web.pages.common import FilterParams, render

router = APIRouter(include_in_schema=False)


_ANOMALY_VIEWS = {
    "unresolved": (AnomalyStatus.OPEN, AnomalyStatus.ACKNOWLEDGED),
    "open": (AnomalyStatus.OPEN,),
    "acknowledged": (AnomalyStatus.ACKNOWLEDGED,),
    "resolved": (AnomalyStatus.RESOLVED,),
    "all": (),
}


def _anomalies_page(
    request: Request, state: AppState, user: WebUser, view: str, **context: Any
) -> HTMLResponse:
    if view not in _ANOMALY_VIEWS:
        raise InvalidInputError(f"unknown status {view!r}", {"field": "status"})

    def work(session: Session) -> dict[str, Any]:
        rows = anomalies.list_anomalies(session=session, status=_ANOMALY_VIEWS[view], limit=200)
        counts = anomalies.counts_over_time(
            session=session, period=anomalies.Period.WEEK, since=None, until=None
        )
        return {
            "anomalies": sorted(rows, key=lambda a: a.detected_at or a.updated_at, reverse=True),
            "counts": counts,
        }

    data = state.uow.run(work)
    weeks = [c.start.isoformat() for c in data["counts"]]
    over_time = {
        "type": "bar",
        "data": {
            "labels": weeks,
            "datasets": [
                {"label": "detected", "data": [c.detected for c in data["counts"]]},
                {"label": "resolved", "data": [c.resolved for c in data["counts"]]},
            ],
        },
        "options": {},
    }
    return render(
        request, "anomalies.html", user, active="anomalies", view=view,
        anomalies=data["anomalies"], over_time=over_time, **context,
    )  # fmt: skip


@router.get("/anomalies")
def anomalies_page(
    request: Request, state: StateDep, user: Staff, status: FilterParams = "unresolved"
) -> Response:
    return _anomalies_page(request, state, user, status or "unresolved")


@router.post("/anomalies/{anomaly_id}/{status}")
def anomaly_change(
    anomaly_id: str,
    status: str,
    request: Request,
    state: StateDep,
    user: Staff,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(user, csrf)
    if status not in (AnomalyStatus.ACKNOWLEDGED.value, AnomalyStatus.RESOLVED.value):
        raise NotFoundError(f"no such action {status!r}")
    now, actor = state.clock(), f"user:{user.username}"
    state.uow.run(
        lambda s: anomalies.change_status(
            session=s, anomaly_id=anomaly_id, status=AnomalyStatus(status), actor=actor, now=now
        )
    )
    return _anomalies_page(request, state, user, "unresolved", message=f"Anomaly {status}.")
