"""The routing configuration: read it, preview a candidate's diff and moves, save it."""

from __future__ import annotations

import difflib
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from affroute.api.deps import StateDep
from affroute.service import configs
from affroute.service.errors import AffrouteError
from affroute.service.keys import Role
from affroute.web.auth import AdminUser, Staff, check_csrf
from affroute.web.pages.common import problems, render

router = APIRouter(include_in_schema=False)


def _active_yaml(session: Session) -> tuple[str, str]:
    row = configs.get_active(session=session)
    return row.version, row.yaml


@router.get("/config")
def config_page(request: Request, state: StateDep, user: Staff) -> Response:
    version, yaml_text = state.uow.run(_active_yaml)
    return render(
        request, "config.html", user, active="config", version=version, yaml_text=yaml_text,
        can_edit=user.role is Role.ADMIN,
    )  # fmt: skip


@router.post("/config/preview")
def config_preview(
    request: Request,
    state: StateDep,
    user: Staff,
    csrf: Annotated[str, Form()] = "",
    yaml: Annotated[str, Form(max_length=1_000_000)] = "",
) -> Response:
    """Validate a candidate and show what it would change, before anything is saved."""
    check_csrf(user, csrf)
    yaml = yaml.replace("\r\n", "\n")  # browsers send a textarea's lines with CRLF
    version, active_yaml = state.uow.run(_active_yaml)
    context: dict[str, Any] = {
        "active": "config", "version": version, "yaml_text": yaml,
        "can_edit": user.role is Role.ADMIN,
    }  # fmt: skip
    try:
        result = state.uow.run(
            lambda s: configs.dry_run(session=s, cache=state.cache, yaml_text=yaml, last=500)
        )
    except AffrouteError as exc:
        found = problems(exc)
        return render(request, "config.html", user, 422, problems=found, **context)
    moves = [f"{n} from {a} to {b}" for (a, b), n in result.moves.most_common(10)]
    diff = "".join(
        difflib.unified_diff(
            active_yaml.splitlines(keepends=True), yaml.splitlines(keepends=True),
            "active", "candidate",
        )
    )  # fmt: skip
    preview = {
        "routed": result.compared,
        "team_changes": result.team_changed,
        "priority_changes": result.priority_changed,
        "moves": moves,
    }
    return render(
        request, "config.html", user, preview=preview, diff=diff or "(no change)", **context
    )


@router.post("/config/save")
def config_save(
    request: Request,
    state: StateDep,
    user: AdminUser,
    csrf: Annotated[str, Form()] = "",
    yaml: Annotated[str, Form(max_length=1_000_000)] = "",
) -> Response:
    check_csrf(user, csrf)
    yaml = yaml.replace("\r\n", "\n")
    now = state.clock()
    try:
        row = state.uow.run(
            lambda s: configs.activate(
                session=s, yaml_text=yaml, actor=f"user:{user.username}", now=now
            )
        )
    except AffrouteError as exc:
        version, _ = state.uow.run(_active_yaml)
        return render(
            request, "config.html", user, 422, active="config", version=version,
            yaml_text=yaml, can_edit=True, problems=problems(exc),
        )  # fmt: skip
    return render(
        request, "config.html", user, active="config", version=row.version,
        yaml_text=row.yaml, can_edit=True, saved=row.version,
    )  # fmt: skip
