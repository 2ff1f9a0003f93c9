"""Routing models: held-out figures beside the live ones."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from affroute.analytics import metrics
from affroute.api.deps import StateDep
from affroute.service import registry
from affroute.web.auth import Staff
from affroute.web.pages.common import render

router = APIRouter(include_in_schema=False)


def _figure(value: Any, percent: bool = False) -> str:
    if not isinstance(value, int | float):
        return "—"
    return f"{100 * value:.1f}%" if percent else f"{value:.3f}"


def models_data(session: Session) -> list[dict[str, Any]]:
    listed = registry.listed(session=session)
    # Live figures from the analytics facts, as /api/v1/metrics/models gives them.
    found = metrics.model_quality(session=session, filters=metrics.Filters()) if listed else []
    live = {(q.model, q.team): q for q in found if q.source == "live"}
    shown = []
    for row in listed:
        figures = row.metrics or {}
        held = {c.get("label"): c for c in figures.get("classes", []) if isinstance(c, dict)}
        classes = []
        for label in row.classes:
            own, seen = held.get(label, {}), live.get((f"model:{row.name}", str(label)))
            classes.append(
                {
                    "label": label,
                    "precision": _figure(own.get("precision")),
                    "recall": _figure(own.get("recall")),
                    "threshold": _figure(own.get("threshold")),
                    "acted": seen.decisions if seen else 0,
                    "confirmed": seen.confirmed if seen else 0,
                    "corrected": seen.corrected if seen else 0,
                    "live_precision": _figure(seen.precision if seen else None),
                    "live_recall": _figure(seen.recall if seen else None),
                }
            )
        overall = {
            "macro_f1": _figure(figures.get("macro_f1")),
            "coverage": _figure(figures.get("coverage"), percent=True),
            "precision_acted": _figure(figures.get("precision_acted"), percent=True),
        }
        shown.append({"row": row, "held": overall, "classes": classes})
    return shown


@router.get("/models")
def models_page(request: Request, state: StateDep, user: Staff) -> Response:
    shown = state.uow.run(models_data)
    return render(request, "models.html", user, active="models", models=shown)
