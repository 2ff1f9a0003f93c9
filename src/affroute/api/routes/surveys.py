"""/api/v1/surveys: surveys and their links, responses from survey tools, satisfaction."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from affroute.analytics import metrics
from affroute.api.deps import AppState, CatalogWriter, Reader, StateDep
from affroute.api.errors import ERRORS
from affroute.api.schemas import (
    SurveyImport,
    SurveyRead,
    SurveyRecorded,
    SurveyResponseIn,
)
from affroute.service import satisfaction, surveys
from affroute.service.errors import AffrouteError, InvalidInputError
from affroute.service.surveys import Answer, ExternalResponse, ResponseSource, SurveyStatus
from affroute.store.models import SurveyRow

router = APIRouter(prefix="/api/v1/surveys", tags=["surveys"], responses=ERRORS)


@router.get("", response_model=list[SurveyRead])
def list_surveys(
    state: StateDep,
    _: Reader,
    status: SurveyStatus | None = None,
    ticket_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> list[SurveyRead]:
    """Surveys, newest first (links are not listed: ask for one survey to get its link)."""
    size = min(limit or state.settings.default_page_size, state.settings.max_page_size)
    query = select(SurveyRow).order_by(SurveyRow.created_at.desc(), SurveyRow.id).limit(size)
    if status is not None:
        query = query.where(SurveyRow.status == status.value)
    if ticket_id is not None:
        query = query.where(SurveyRow.ticket_id == ticket_id)
    return state.uow.run(lambda s: [SurveyRead.of(row) for row in s.scalars(query)])


@router.get("/satisfaction", response_model=list[satisfaction.Satisfaction])
def satisfaction_by(
    state: StateDep,
    _: Reader,
    by: satisfaction.Dimension = satisfaction.Dimension.TEAM,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> list[satisfaction.Satisfaction]:
    """CSAT, NPS and response rate per group: the whole period, then week by week."""
    return state.uow.run(
        lambda s: satisfaction.satisfaction(session=s, by=by, since=created_from, until=created_to)
    )


@router.get("/outcomes", response_model=list[metrics.RoutingOutcome])
def routing_outcomes(
    state: StateDep,
    _: Reader,
    by: metrics.OutcomeKey = metrics.OutcomeKey.DECIDED_BY,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> list[metrics.RoutingOutcome]:
    """What each first decision led to: CSAT, resolution time, reopens, reassignments.

    ``by=decided_by`` groups by what made the first decision (``rule:<name>``,
    ``model:<name>``, ``default``); ``by=team`` by the team it chose. Read from the
    analytics facts, like ``/metrics``: the median comes from a sample past 50,000 solved
    tickets (``median_of`` says how many).
    """
    window = metrics.Filters(created_from=created_from, created_to=created_to)
    return state.uow.run(lambda s: metrics.routing_outcomes(session=s, filters=window, by=by))


@router.get("/{survey_id}", response_model=SurveyRead)
def get_survey(survey_id: str, state: StateDep, _: CatalogWriter) -> SurveyRead:
    """One survey; while it can be answered, with the partner's link (for your mailer)."""
    now = state.clock()

    def work(session: Session) -> SurveyRead:
        row = surveys.get(session=session, survey_id=survey_id)
        url = None
        if row.status == SurveyStatus.SENT.value:
            token = surveys.link_token(session, row, now)
            url = surveys.survey_url(state.settings.public_url, token)
        return SurveyRead.of(row, url)

    return state.uow.run(work)


def _record(
    state: AppState,
    response: ExternalResponse,
    source: ResponseSource,
    now: datetime,
    session: Session,
) -> surveys.Recorded:
    routing = state.cache.current(session)
    return surveys.record_response(
        session=session, routing=routing, response=response, source=source, now=now,
        announce=bool(state.settings.events_webhook_url),
    )  # fmt: skip


def _external(body: SurveyResponseIn) -> ExternalResponse:
    return ExternalResponse(
        answer=Answer(csat=body.csat, nps=body.nps, comment=body.comment),
        ticket_id=body.ticket_id,
        external_id=body.external_id,
        response_id=body.response_id,
        answered_at=body.answered_at,
    )


@router.post("/responses", response_model=SurveyRecorded, status_code=201)
def record_response(body: SurveyResponseIn, state: StateDep, _: CatalogWriter) -> SurveyRecorded:
    """Take one response from an external survey tool (Zigpoll, SurveyMonkey, Qualtrics...).

    A repeat of the same ``response_id`` returns the first result with ``replayed`` true.
    """
    work = partial(_record, state, _external(body), ResponseSource.WEBHOOK, state.clock())
    done = state.uow.run(work)
    return SurveyRecorded(survey=SurveyRead.of(done.survey), replayed=done.replayed)


@router.post(
    "/responses/import",
    response_model=SurveyImport,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
async def import_responses(
    request: Request,
    state: StateDep,
    _: CatalogWriter,
    ticket_id: Annotated[str | None, Query(description="column holding our ticket id")] = None,
    external_id: Annotated[str | None, Query(description="column holding the external id")] = None,
    response_id: Annotated[
        str | None, Query(description="column of the tool's response id")
    ] = None,
    csat: Annotated[str | None, Query(description="column holding CSAT (1..5)")] = None,
    nps: Annotated[str | None, Query(description="column holding NPS (0..10)")] = None,
    comment: Annotated[str | None, Query(description="column holding the comment")] = None,
    answered_at: Annotated[str | None, Query(description="column of the answer time")] = None,
) -> SurveyImport:
    """Import a survey tool's CSV export; the query parameters name its columns.

    Each good row is stored on its own; a bad row, or one that matches no ticket, is
    reported with its line number and field, and the others still count.
    """
    try:
        text = (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInputError("the body is not UTF-8", {"field": "body"}) from None
    columns = {
        name: column
        for name, column in {
            "ticket_id": ticket_id, "external_id": external_id, "response_id": response_id,
            "csat": csat, "nps": nps, "comment": comment, "answered_at": answered_at,
        }.items()
        if column
    }  # fmt: skip
    good, errors = surveys.responses_from_csv(text, columns)
    return await run_in_threadpool(_import, state, good, errors)


def _import(
    state: AppState,
    good: list[tuple[int, ExternalResponse]],
    errors: list[dict[str, object]],
) -> SurveyImport:
    now = state.clock()
    recorded = replayed = 0
    for line, response in good:
        try:
            done = state.uow.run(partial(_record, state, response, ResponseSource.IMPORT, now))
        except AffrouteError as exc:
            field = exc.details.get("field") if isinstance(exc.details, dict) else None
            errors.append({"line": line, "field": field, "message": exc.message})
            continue
        replayed += done.replayed
        recorded += not done.replayed
    errors.sort(key=lambda e: int(str(e["line"])))
    return SurveyImport(recorded=recorded, replayed=replayed, errors=errors)
