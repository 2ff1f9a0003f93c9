"""One JSON error shape for every failure: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException

from affroute.service.errors import AffrouteError

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
}


class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable code, e.g. invalid_input")
    message: str
    details: Any = Field(default=None, description="the fields or rows at fault, when known")


class ErrorBody(BaseModel):
    """Every error the API returns has this shape."""

    error: ErrorDetail


# Declared on every router so the OpenAPI contract lists the errors clients must handle.
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (401, "no API key, or not a valid one"),
        (403, "the key's role may not do this"),
        (404, "no such resource (or not visible to this caller)"),
        (409, "the change conflicts with the current state"),
        (413, "request body too large"),
        (422, "invalid input; details name the fields"),
    )
}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def _field(loc: tuple[Any, ...]) -> str:
    # ("body", "tickets", 3, "value") -> "tickets[3].value"; the "body" prefix says nothing.
    parts = [p for p in loc if p not in ("body",)]
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(AffrouteError)
    async def _ours(_: Request, exc: AffrouteError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"field": _field(tuple(err["loc"])), "message": err["msg"], "type": err["type"]}
            for err in exc.errors()
        ]
        fields = ", ".join(sorted({d["field"] for d in details}))
        return JSONResponse(
            error_body("invalid_input", f"invalid request: {fields}", details), status_code=422
        )

    @app.exception_handler(DataError)
    async def _unstorable(_: Request, exc: DataError) -> JSONResponse:
        # e.g. a NUL character, which PostgreSQL text cannot hold: the input's fault, not ours
        return JSONResponse(
            error_body("invalid_input", "a value in the request cannot be stored"), status_code=422
        )

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )
