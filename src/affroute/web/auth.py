"""Signing in and out of the dashboard, and who may see which page.

The session cookie is HttpOnly and SameSite=Lax (Secure when the public address is
https); every form that changes something carries the session's CSRF token. The login
form, before any session exists, uses a double-submit token in a SameSite=Strict cookie.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from affroute.api.deps import AppState, get_state
from affroute.service import users
from affroute.service.keys import Role
from affroute.service.users import WebUser

SESSION_COOKIE = "affroute_session"
LOGIN_COOKIE = "affroute_login"


class SignInRequired(Exception):  # noqa: N818 - control flow: the handler redirects
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PageForbidden(Exception):  # noqa: N818 - control flow: the handler shows a 403 page
    pass


class BadCsrf(Exception):  # noqa: N818 - control flow: the handler shows a 403 page
    pass


def secure_cookies(state: AppState) -> bool:
    return state.settings.public_url.startswith("https://")


def _resolve(state: AppState, session_id: str) -> WebUser | None:
    now = state.clock()
    return state.uow.run(lambda s: users.resolve(session=s, session_id=session_id, now=now))


def viewer(*roles: Role) -> Callable[..., Coroutine[Any, Any, WebUser]]:
    """A dependency: the signed-in user, if their role may see the page."""
    allowed = frozenset(roles)

    async def check(request: Request) -> WebUser:
        session_id = request.cookies.get(SESSION_COOKIE)
        user = None
        if session_id:
            user = await run_in_threadpool(_resolve, get_state(request), session_id)
        if user is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise SignInRequired(target)
        if user.role not in allowed:
            raise PageForbidden
        return user

    return check


def check_csrf(user: WebUser, token: str) -> None:
    if not hmac.compare_digest(token, user.csrf):
        raise BadCsrf


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


def login_url(next_path: str) -> str:
    return f"/login?next={quote(next_path, safe='')}"


def safe_next(next_path: str | None) -> str:
    """Only paths on this site: never send a person elsewhere after signing in."""
    if not next_path or not next_path.startswith("/") or next_path.startswith("//"):
        return "/"
    return next_path


Anyone = Annotated[WebUser, Depends(viewer(Role.ADMIN, Role.ANALYST, Role.AGENT))]
Staff = Annotated[WebUser, Depends(viewer(Role.ADMIN, Role.ANALYST))]
AdminUser = Annotated[WebUser, Depends(viewer(Role.ADMIN))]
