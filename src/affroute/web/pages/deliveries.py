"""Dead letters of write-backs and webhooks, with a retry for admins."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from affroute.api.deps import AppState, StateDep
from affroute.service import outbox
from affroute.service.errors import AffrouteError, InvalidInputError
from affroute.service.users import WebUser
from affroute.web.auth import AdminUser, Staff, check_csrf
from affroute.web.pages.common import FilterParams, render

router = APIRouter(include_in_schema=False)


def _deliveries_page(
    request: Request, state: AppState, user: WebUser, view: str, status: int = 200, **context: Any
) -> HTMLResponse:
    try:
        chosen = outbox.OutboxStatus(view)
    except ValueError:
        raise InvalidInputError(f"unknown status {view!r}", {"field": "status"}) from None
    rows = state.uow.run(
        lambda s: outbox.list_deliveries(session=s, status=chosen, after=None, limit=200)
    )
    return render(
        request, "deliveries.html", user, status, active="deliveries", view=view,
        deliveries=rows, **context,
    )  # fmt: skip


@router.get("/deliveries")
def deliveries_page(
    request: Request, state: StateDep, user: Staff, status: FilterParams = "dead"
) -> Response:
    return _deliveries_page(request, state, user, status or "dead")


@router.post("/deliveries/{delivery_id}/retry")
def delivery_retry(
    delivery_id: str,
    request: Request,
    state: StateDep,
    user: AdminUser,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(user, csrf)
    now = state.clock()
    try:
        state.uow.run(lambda s: outbox.retry(session=s, delivery_id=delivery_id, now=now))
    except AffrouteError as exc:
        return _deliveries_page(request, state, user, "dead", 409, problem=exc.message)
    return _deliveries_page(request, state, user, "dead", message="Queued to be sent again.")
