"""What every page shares: the templates and response headers, the filters, the teams a
user may see, chart and number helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from affroute.analytics import metrics
from affroute.api.deps import AppState
from affroute.service import agents
from affroute.service.errors import AffrouteError, InvalidInputError
from affroute.service.keys import Role
from affroute.service.users import WebUser

WEB = Path(__file__).parents[1]
templates = Jinja2Templates(directory=WEB / "templates")
TIERS = ("bronze", "silver", "gold", "premium")
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def render(
    request: Request, name: str, user: WebUser | None, status: int = 200, **context: Any
) -> HTMLResponse:
    context |= {"user": user}
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(HEADERS)
    return response


@dataclass(frozen=True, slots=True)
class Filters:
    date_from: date | None = None
    date_to: date | None = None
    team: str | None = None
    tier: str | None = None

    @property
    def since(self) -> datetime | None:
        return datetime.combine(self.date_from, time(), UTC) if self.date_from else None

    @property
    def until(self) -> datetime | None:
        # Inclusive of the last day chosen.
        return (
            datetime.combine(self.date_to, time(), UTC) + timedelta(days=1)
            if self.date_to
            else None
        )


def filters_of(
    date_from: str | None, date_to: str | None, team: str | None, tier: str | None
) -> Filters:
    def day(raw: str | None, field: str) -> date | None:
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise InvalidInputError(f"{field} is not a date", {"field": field}) from None

    return Filters(day(date_from, "date_from"), day(date_to, "date_to"), team or None, tier or None)


FilterParams = Annotated[str | None, Query(max_length=64)]


async def _filters(
    date_from: FilterParams = None,
    date_to: FilterParams = None,
    team: FilterParams = None,
    tier: FilterParams = None,
) -> Filters:
    return filters_of(date_from, date_to, team, tier)


FiltersDep = Annotated[Filters, Depends(_filters)]


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def metric_filters(filters: Filters) -> metrics.Filters:
    return metrics.Filters(filters.since, filters.until, filters.team, filters.tier)


def bar(
    labels: list[str], values: list[float | None], label: str, **options: Any
) -> dict[str, Any]:
    return {
        "type": "bar",
        "data": {"labels": labels, "datasets": [{"label": label, "data": values}]},
        "options": options,
    }


def rounded(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def config_teams(state: AppState, session: Session) -> list[str]:
    return sorted(state.cache.current(session).config.teams)


def my_teams(session: Session, user: WebUser) -> set[str] | None:
    if user.role is not Role.AGENT:
        return None
    return set(agents.teams_of(session=session, agent_id=user.agent_id or ""))


def problems(exc: AffrouteError) -> list[str]:
    details = exc.details
    if isinstance(details, list):
        return [
            f"{d.get('location', '')}: {d.get('message', '')}" if isinstance(d, dict) else str(d)
            for d in details
        ]
    return [exc.message]
