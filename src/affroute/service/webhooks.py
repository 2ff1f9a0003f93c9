"""Outbound webhooks signed the Standard Webhooks way (``webhook-id``, ``-timestamp``,
``-signature`` over ``id.timestamp.body``), so receivers can verify them with any of its
libraries and drop repeats by the delivery id."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

log = logging.getLogger("affroute.webhooks")


def signed_headers(secret: str, delivery_id: str, body: str, now: datetime) -> dict[str, str]:
    return {
        "webhook-id": delivery_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(delivery_id, now.astimezone(UTC), body),
        "content-type": "application/json",
    }


def send(
    client: httpx.Client,
    url: str,
    secret: str,
    *,
    delivery_id: str,
    event_type: str,
    data: dict[str, Any],
    now: datetime,
) -> httpx.Response:
    """POST one signed event; raises ``httpx.HTTPError`` when the network fails."""
    body = json.dumps({"type": event_type, "timestamp": now.isoformat(), "data": data})
    return client.post(url, content=body, headers=signed_headers(secret, delivery_id, body, now))


def post(
    client: httpx.Client,
    url: str,
    secret: str,
    *,
    delivery_id: str,
    event_type: str,
    data: dict[str, Any],
    now: datetime,
) -> bool:
    """Deliver one event; True when the receiver took it (2xx). Never raises on the network."""
    try:
        response = send(
            client, url, secret, delivery_id=delivery_id, event_type=event_type, data=data, now=now
        )
    except httpx.HTTPError as exc:
        log.warning("webhook %s to %s failed: %s", delivery_id, url, type(exc).__name__)
        return False
    if not response.is_success:
        log.warning("webhook %s to %s answered %s", delivery_id, url, response.status_code)
    return response.is_success
