"""The dashboard's pages, a module per page family. Each reads through the same service
functions as the API, so a number on a page is the number the API gives; live parts are
fragments polled by htmx."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from affroute.service.errors import AffrouteError
from affroute.web.auth import BadCsrf, PageForbidden, SignInRequired, login_url
from affroute.web.pages import (
    agents,
    anomalies,
    config,
    deliveries,
    login,
    models,
    overview,
    queues,
    satisfaction,
    simulate,
    static,
    tickets,
    tuning,
)
from affroute.web.pages.common import render

# In the order the old single module declared them: a fixed path before a parameter.
router = APIRouter(include_in_schema=False)
for family in (
    login,
    overview,
    queues,
    tickets,
    agents,
    satisfaction,
    config,
    anomalies,
    models,
    deliveries,
    simulate,
    tuning,
    static,
):
    router.include_router(family.router)


def install(app: FastAPI) -> None:
    """Add the pages and the handlers that turn sign-in problems into pages."""
    app.include_router(router)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        if request.headers.get("HX-Request"):  # a polled fragment: reload into the login
            return Response(status_code=200, headers={"HX-Redirect": login_url(exc.next_path)})
        return RedirectResponse(login_url(exc.next_path), status_code=303)

    api_errors = app.exception_handlers[AffrouteError]

    @app.exception_handler(AffrouteError)
    async def _error(request: Request, exc: AffrouteError) -> Response:
        if request.url.path.startswith("/api/"):
            answer = api_errors(request, exc)
            return answer if isinstance(answer, Response) else await answer
        return await run_in_threadpool(
            render, request, "message.html", None, exc.status,
            heading="Not found" if exc.status == 404 else "That did not work",
            message=exc.message,
        )  # fmt: skip

    @app.exception_handler(PageForbidden)
    async def _forbidden(request: Request, exc: PageForbidden) -> Response:
        return await run_in_threadpool(
            render, request, "message.html", None, 403,
            heading="Not for your role", message="Your account cannot open this page.",
        )  # fmt: skip

    @app.exception_handler(BadCsrf)
    async def _bad_form(request: Request, exc: BadCsrf) -> Response:
        return await run_in_threadpool(
            render, request, "message.html", None, 403,
            heading="This form has expired",
            message="Please go back, reload the page and try again.",
        )  # fmt: skip
