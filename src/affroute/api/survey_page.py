"""The public survey page: no login, reached only through a signed, single-use link.

The link ``/s/<token>`` is opened once: the token moves into an HttpOnly, SameSite=Strict
cookie scoped to ``/s`` and the browser is sent on to ``/s``, so the token leaves the
address bar and history at once, is never in a Referer (``no-referrer`` everywhere here),
and the access log shows ``/s/…`` instead of it (see ``RedactSurveyTokens``). The form
carries a CSRF value bound to the token.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from affroute.api.deps import StateDep
from affroute.service import surveys
from affroute.service.errors import InvalidInputError
from affroute.service.surveys import Answer, LinkProblem, LinkRefused
from affroute.store.models import TicketRow

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
COOKIE = "affroute_survey"
MAX_COMMENT = 2000
HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}
_REFUSALS = {
    LinkProblem.INVALID: (
        403,
        "This link does not work",
        "It may have been copied incompletely. Please open the link from your message again.",
    ),
    LinkProblem.EXPIRED: (
        410,
        "This survey has closed",
        "Thank you for looking: the time to answer this survey has passed.",
    ),
    LinkProblem.USED: (
        409,
        "You have answered already",
        "We have your answer for this request. Thank you for taking the time!",
    ),
    LinkProblem.NOT_YET: (
        409,
        "This survey is not open yet",
        "Please try again a little later.",
    ),
}


class RedactSurveyTokens(logging.Filter):
    """Keep survey tokens out of the access log: ``/s/<token>`` is logged as ``/s/…``."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(_redact(a) if isinstance(a, str) else a for a in args)
        return True


def _redact(text: str) -> str:
    if text.startswith("/s/"):
        return "/s/…"
    return text


def install_log_redaction() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactSurveyTokens) for f in access.filters):
        access.addFilter(RedactSurveyTokens())


def _page(request: Request, name: str, status: int, **context: Any) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(HEADERS)
    return response


def _refusal(request: Request, problem: LinkProblem) -> HTMLResponse:
    status, heading, message = _REFUSALS[problem]
    response = _page(request, "survey_message.html", status, heading=heading, message=message)
    if problem in (LinkProblem.EXPIRED, LinkProblem.USED):  # nothing left to answer
        response.delete_cookie(COOKIE, path="/s")
    return response


def _csrf(token: str) -> str:
    return hmac.new(token.encode(), b"affroute survey form", hashlib.sha256).hexdigest()


@router.get("/s/{token}")
def open_survey(token: str, request: Request, state: StateDep) -> Response:
    now = state.clock()
    try:
        state.uow.run(lambda s: surveys.open_link(s, token, now))
    except LinkRefused as refused:
        return _refusal(request, refused.problem)
    response = RedirectResponse("/s", status_code=303, headers=HEADERS)
    response.set_cookie(
        COOKIE,
        token,
        max_age=3600,
        path="/s",
        httponly=True,
        samesite="strict",
        secure=state.settings.public_url.startswith("https://"),
    )
    return response


def _subject(session: Session, token: str, now: Any) -> str:
    survey = surveys.open_link(session, token, now)
    ticket = session.get(TicketRow, survey.ticket_id)
    return ticket.subject if ticket is not None else ""


@router.get("/s")
def survey_form(request: Request, state: StateDep) -> Response:
    token = request.cookies.get(COOKIE)
    if not token:
        return _refusal(request, LinkProblem.INVALID)
    now = state.clock()
    try:
        subject = state.uow.run(lambda s: _subject(s, token, now))
    except LinkRefused as refused:
        return _refusal(request, refused.problem)
    return _form(request, token, subject, form={}, error=None, status=200)


def _form(
    request: Request,
    token: str,
    subject: str,
    *,
    form: dict[str, str | None],
    error: str | None,
    status: int,
) -> HTMLResponse:
    return _page(
        request, "survey_form.html", status,
        subject=subject, csrf=_csrf(token), form=form, error=error, max_comment=MAX_COMMENT,
    )  # fmt: skip


@router.post("/s")
def submit_survey(
    request: Request,
    state: StateDep,
    csrf: Annotated[str, Form()] = "",
    csat: Annotated[str | None, Form()] = None,
    nps: Annotated[str | None, Form()] = None,
    comment: Annotated[str | None, Form()] = None,
) -> Response:
    token = request.cookies.get(COOKIE)
    if not token or not hmac.compare_digest(csrf, _csrf(token)):
        return _refusal(request, LinkProblem.INVALID)
    now = state.clock()
    form = {"csat": csat, "nps": nps, "comment": comment}
    try:
        answer = Answer(
            csat=_score(csat, "csat"),
            nps=_score(nps, "nps"),
            comment=(comment or "").strip()[:MAX_COMMENT] or None,
        )
        if answer.csat is None:
            raise InvalidInputError("csat is needed", {"field": "csat"})
    except InvalidInputError:
        try:
            subject = state.uow.run(lambda s: _subject(s, token, now))
        except LinkRefused as refused:
            return _refusal(request, refused.problem)
        message = "Please choose how satisfied you are, from 1 to 5."
        return _form(request, token, subject, form=form, error=message, status=422)
    try:
        announce = bool(state.settings.events_webhook_url)
        state.uow.run(
            lambda s: surveys.answer_link(
                session=s, token=token, answer=answer, now=now, announce=announce
            )
        )
    except LinkRefused as refused:
        return _refusal(request, refused.problem)
    response = _page(
        request, "survey_message.html", 200,
        heading="Thank you!",
        message="Your answer helps us send every request to the people best placed to help.",
    )  # fmt: skip
    response.delete_cookie(COOKIE, path="/s")
    return response


def _score(raw: str | None, field: str) -> int | None:
    if raw is None or not raw.strip():
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidInputError(f"{field} must be a whole number", {"field": field}) from None
