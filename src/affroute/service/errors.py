"""Errors the use cases raise; the API maps each to one HTTP status and one JSON shape."""

from __future__ import annotations

from typing import Any


class AffrouteError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFoundError(AffrouteError):
    status = 404
    code = "not_found"


class ConflictError(AffrouteError):
    status = 409
    code = "conflict"


class InvalidInputError(AffrouteError):
    status = 422
    code = "invalid_input"


class UnauthorizedError(AffrouteError):
    status = 401
    code = "unauthorized"


class ForbiddenError(AffrouteError):
    status = 403
    code = "forbidden"
