"""Surveys and satisfaction, with the outcomes of each routing decision."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from affroute.analytics import metrics
from affroute.api.deps import StateDep
from affroute.service import satisfaction
from affroute.store.models import SurveyRow
from affroute.web.auth import Staff
from affroute.web.pages.common import FilterParams, bar, filters_of, metric_filters, render

router = APIRouter(include_in_schema=False)


@router.get("/satisfaction")
def satisfaction_page(
    request: Request,
    state: StateDep,
    user: Staff,
    by: satisfaction.Dimension = satisfaction.Dimension.ENGAGEMENT,
    date_from: FilterParams = None,
    date_to: FilterParams = None,
) -> Response:
    filters = filters_of(date_from, date_to, None, None)

    def work(session: Session) -> dict[str, Any]:
        rows = satisfaction.satisfaction(
            session=session, by=by, since=filters.since, until=filters.until, weekly=False
        )
        comments = list(
            session.scalars(
                select(SurveyRow)
                .where(SurveyRow.comment.is_not(None))
                .order_by(SurveyRow.answered_at.desc())
                .limit(20)
            )
        )
        chosen = metric_filters(filters)
        outcomes = state.facts_memo.get(
            session,
            ("outcomes", chosen),
            lambda: metrics.routing_outcomes(
                session=session, filters=chosen, by=metrics.OutcomeKey.DECIDED_BY
            ),
        )
        return {"rows": rows, "comments": comments, "outcomes": outcomes}

    data = state.uow.run(work)
    spec = bar(
        [r.group for r in data["rows"]], [r.csat for r in data["rows"]], "average CSAT",
        scales={"y": {"min": 1, "max": 5}},
    )  # fmt: skip
    return render(
        request, "satisfaction.html", user, active="satisfaction", by=by.value,
        dimensions=[d.value for d in satisfaction.Dimension], filters=filters, chart_spec=spec,
        **data,
    )  # fmt: skip
