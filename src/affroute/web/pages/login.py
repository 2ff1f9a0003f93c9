"""Signing in and out: a CSRF token on the form, a session cookie after."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from affroute.api.deps import StateDep
from affroute.service import users
from affroute.web.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Anyone,
    BadCsrf,
    check_csrf,
    new_login_token,
    safe_next,
    secure_cookies,
)
from affroute.web.pages.common import render

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    token = new_login_token()
    response = render(request, "login.html", None, csrf=token, next=safe_next(next))
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/login")
    return response


@router.post("/login")
def login(
    request: Request,
    state: StateDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    expected = request.cookies.get(LOGIN_COOKIE)
    if not expected or csrf != expected:
        raise BadCsrf
    now = state.clock()
    login = state.uow.run(
        lambda s: users.authenticate(session=s, username=username, password=password, now=now)
    )
    if login.user is None:
        return render(
            request, "login.html", None, 401,
            csrf=expected, next=safe_next(next), username=username, error=login.problem,
        )  # fmt: skip
    user = login.user
    session_id = state.uow.run(lambda s: users.start_session(session=s, user=user, now=now))
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(users.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure_cookies(state),
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(
    request: Request, state: StateDep, user: Anyone, csrf: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(user, csrf)
    session_id = request.cookies.get(SESSION_COOKIE, "")
    state.uow.run(lambda s: users.end_session(session=s, session_id=session_id))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
