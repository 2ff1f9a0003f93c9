"""Proof that an inbound webhook came from its sender: Zendesk's scheme, Standard Webhooks,
and Freshdesk's (which does not sign: a shared secret header and an address allow-list)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from standardwebhooks.webhooks import Webhook

from affroute.service.errors import UnauthorizedError


class SignatureError(UnauthorizedError):
    code = "bad_signature"


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if not value:
        raise SignatureError(f"the {name} header is missing")
    return value


def _fresh(sent: datetime, now: datetime, tolerance: timedelta) -> None:
    if abs(now - sent) > tolerance:
        raise SignatureError(
            f"the signature timestamp is {abs(now - sent).total_seconds():.0f}s away from now; "
            f"accepted: {tolerance.total_seconds():.0f}s (a replay, or a clock out of step)"
        )


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, timestamp + body)), as Zendesk signs its webhooks."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_zendesk(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: datetime, tolerance: timedelta
) -> None:
    """Raise ``SignatureError`` unless Zendesk signed this body recently."""
    signature = _header(headers, "x-zendesk-webhook-signature")
    timestamp = _header(headers, "x-zendesk-webhook-signature-timestamp")
    if not hmac.compare_digest(zendesk_signature(secret, timestamp, body), signature):
        raise SignatureError("the Zendesk signature does not match the body")
    try:
        sent = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        raise SignatureError(f"the signature timestamp {timestamp!r} is not ISO 8601") from None
    _fresh(sent if sent.tzinfo else sent.replace(tzinfo=UTC), now, tolerance)


def verify_standard(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: datetime, tolerance: timedelta
) -> str:
    """Check a Standard Webhooks signature over ``id.timestamp.body``; return the message id.

    The package's own ``verify`` reads the wall clock; signing the same message with its
    ``sign`` and comparing keeps the clock an argument.
    """
    message_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    try:
        sent = datetime.fromtimestamp(int(timestamp), tz=UTC)
    except (ValueError, OverflowError):
        raise SignatureError(f"webhook-timestamp {timestamp!r} is not Unix seconds") from None
    expected = Webhook(secret).sign(message_id, sent, body.decode("utf-8", "replace"))
    _, _, wanted = expected.partition(",")
    offered = (s.partition(",") for s in signatures.split())
    if not any(v == "v1" and hmac.compare_digest(sig, wanted) for v, _, sig in offered):
        raise SignatureError("no webhook-signature matches the body")
    _fresh(sent, now, tolerance)
    return message_id


def verify_freshdesk(
    token: str, headers: Mapping[str, str], client_ip: str | None, allowed: Sequence[str]
) -> None:
    """Freshdesk does not sign: the shared token must match and the caller be allowed."""
    if not hmac.compare_digest(_header(headers, "x-affroute-token"), token):
        raise SignatureError("the X-Affroute-Token header does not match")
    if not allowed:
        return
    try:
        address = ipaddress.ip_address(client_ip or "")
    except ValueError:
        raise SignatureError("the caller's address is unknown") from None
    if not any(address in ipaddress.ip_network(net, strict=False) for net in allowed):
        raise SignatureError(f"{address} is not in AFFROUTE_FRESHDESK_ALLOWED_IPS")
