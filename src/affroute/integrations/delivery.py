"""Calls out of the outbox: Zendesk's and Freshdesk's Tickets APIs and signed webhooks,
each answer read as delivered, retry (with the receiver's Retry-After) or give up."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from affroute.integrations.helpdesk import Desk
from affroute.service import webhooks
from affroute.service.outbox import Attempt, Claimed
from affroute.settings import Settings

# Answers worth another try: the receiver may recover; any other 4xx will not.
_TRANSIENT = frozenset({408, 409, 425, 429})


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds or as an HTTP date."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when.astimezone(UTC) - now).total_seconds(), 0.0)


def attempt_of(response: httpx.Response, now: datetime) -> Attempt:
    if response.is_success:
        return Attempt(ok=True)
    status = response.status_code
    error = f"{response.request.method} {response.request.url.path} answered {status}"
    detail = response.text[:200].strip()
    if detail:
        error += f": {detail}"
    return Attempt(
        ok=False,
        error=error,
        retry_after=retry_after_seconds(response.headers.get("retry-after"), now)
        if status in (429, 503)
        else None,
        permanent=status < 500 and status not in _TRANSIENT,
    )


class Deliverer:
    """Delivers claimed outbox rows with one HTTP client and the settings' credentials."""

    def __init__(
        self, settings: Settings, client: httpx.Client, clock: Callable[[], datetime]
    ) -> None:
        self.settings = settings
        self.client = client
        self.clock = clock

    def __call__(self, item: Claimed) -> Attempt:
        try:
            if item.target == Desk.ZENDESK:
                return self._zendesk(item)
            if item.target == Desk.FRESHDESK:
                return self._freshdesk(item)
            if item.target == Desk.WEBHOOK:
                return self._webhook(item)
        except httpx.HTTPError as exc:  # down, refused or too slow: try again later
            return Attempt(ok=False, error=f"{type(exc).__name__}: {exc}"[:300])
        return Attempt(ok=False, error=f"unknown target {item.target!r}", permanent=True)

    def _missing(self, *names: str) -> Attempt | None:
        unset = [n for n in names if not getattr(self.settings, n)]
        if not unset:
            return None
        # Not permanent: setting the variable and restarting lets the backlog through.
        env = ", ".join(f"AFFROUTE_{n.upper()}" for n in unset)
        return Attempt(ok=False, error=f"not configured: {env}")

    def _zendesk(self, item: Claimed) -> Attempt:
        missing = self._missing("zendesk_url", "zendesk_email", "zendesk_api_token")
        if missing:
            return missing
        s = self.settings
        response = self.client.put(
            f"{s.zendesk_url}/api/v2/tickets/{item.payload['external_id']}.json",
            json=item.payload["body"],
            auth=(f"{s.zendesk_email}/token", s.zendesk_api_token or ""),
        )
        return attempt_of(response, self.clock())

    def _freshdesk(self, item: Claimed) -> Attempt:
        missing = self._missing("freshdesk_url", "freshdesk_api_key")
        if missing:
            return missing
        s = self.settings
        base = f"{s.freshdesk_url}/api/v2/tickets/{item.payload['external_id']}"
        auth = (s.freshdesk_api_key or "", "X")  # Freshdesk: the API key as user, any password
        response = self.client.put(base, json=item.payload["body"]["ticket"], auth=auth)
        attempt = attempt_of(response, self.clock())
        note = item.payload["body"].get("note")
        if not attempt.ok or note is None:
            return attempt
        # A retry repeats the update too: setting the same fields again changes nothing.
        return attempt_of(self.client.post(f"{base}/notes", json=note, auth=auth), self.clock())

    def _webhook(self, item: Claimed) -> Attempt:
        missing = self._missing("events_webhook_url", "webhook_secret")
        if missing:
            return missing
        response = webhooks.send(
            self.client,
            self.settings.events_webhook_url or "",
            self.settings.webhook_secret or "",
            delivery_id=item.delivery_id,
            event_type=item.payload["type"],
            data=item.payload["data"],
            now=self.clock(),
        )
        return attempt_of(response, self.clock())
