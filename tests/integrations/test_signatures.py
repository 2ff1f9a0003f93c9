"""Inbound signatures with the published schemes: valid, tampered, wrong secret, stale,
missing header."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from affroute.integrations import signatures
from affroute.integrations.signatures import SignatureError

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)
BODY = b'{"type":"zen:event-type:ticket.created","detail":{"id":"35"}}'
STANDARD_SECRET = "whsec_" + base64.b64encode(b"a-very-secret-key-of-32-bytes!!!").decode()


def zendesk_headers(secret: str, body: bytes, sent: datetime) -> dict[str, str]:
    stamp = sent.strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
    return {
        "x-zendesk-webhook-signature": base64.b64encode(digest).decode(),
        "x-zendesk-webhook-signature-timestamp": stamp,
    }


def test_zendesk_accepts_its_own_signature() -> None:
    headers = zendesk_headers("zd-secret", BODY, NOW - timedelta(seconds=30))
    signatures.verify_zendesk("zd-secret", headers, BODY, now=NOW, tolerance=WINDOW)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("tampered", "does not match"),
        ("wrong secret", "does not match"),
        ("stale", "away from now"),
        ("future", "away from now"),
        ("no signature", "x-zendesk-webhook-signature header is missing"),
        ("no timestamp", "x-zendesk-webhook-signature-timestamp header is missing"),
    ],
)
def test_zendesk_refuses(case: str, message: str) -> None:
    sent = {"stale": NOW - timedelta(minutes=6), "future": NOW + timedelta(minutes=6)}.get(
        case, NOW
    )
    headers = zendesk_headers("other" if case == "wrong secret" else "zd-secret", BODY, sent)
    body = BODY.replace(b"35", b"36") if case == "tampered" else BODY
    headers.pop(
        {
            "no signature": "x-zendesk-webhook-signature",
            "no timestamp": "x-zendesk-webhook-signature-timestamp",
        }.get(case, ""),
        None,
    )
    with pytest.raises(SignatureError, match=message) as refused:
        signatures.verify_zendesk("zd-secret", headers, body, now=NOW, tolerance=WINDOW)
    assert refused.value.status == 401


def standard_headers(
    secret: str, body: bytes, sent: datetime, msg_id: str = "msg_1"
) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(sent.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, sent, body.decode()),
    }


def test_standard_webhooks_accepts_the_reference_library_signature() -> None:
    headers = standard_headers(STANDARD_SECRET, BODY, NOW - timedelta(minutes=4))
    # The reference library agrees (its own clock, so checked with a fresh timestamp).
    fresh = standard_headers(STANDARD_SECRET, BODY, datetime.now(UTC))
    Webhook(STANDARD_SECRET).verify(BODY.decode(), fresh)
    assert (
        signatures.verify_standard(STANDARD_SECRET, headers, BODY, now=NOW, tolerance=WINDOW)
        == "msg_1"
    )


def test_standard_webhooks_accepts_any_of_several_signatures() -> None:
    headers = standard_headers(STANDARD_SECRET, BODY, NOW)
    headers["webhook-signature"] = "v1,bm90IGl0 " + headers["webhook-signature"]
    signatures.verify_standard(STANDARD_SECRET, headers, BODY, now=NOW, tolerance=WINDOW)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("tampered", "no webhook-signature matches"),
        ("wrong secret", "no webhook-signature matches"),
        ("other id", "no webhook-signature matches"),
        ("stale", "away from now"),
        ("no signature", "webhook-signature header is missing"),
        ("no id", "webhook-id header is missing"),
        ("no timestamp", "webhook-timestamp header is missing"),
    ],
)
def test_standard_webhooks_refuses(case: str, message: str) -> None:
    other = "whsec_" + base64.b64encode(b"another-secret-another-secret-!!").decode()
    secret = other if case == "wrong secret" else STANDARD_SECRET
    sent = NOW - timedelta(minutes=5, seconds=1) if case == "stale" else NOW
    headers = standard_headers(secret, BODY, sent)
    if case == "other id":
        headers["webhook-id"] = "msg_2"
    body = BODY + b" " if case == "tampered" else BODY
    drop = {
        "no signature": "webhook-signature",
        "no id": "webhook-id",
        "no timestamp": "webhook-timestamp",
    }
    headers.pop(drop.get(case, ""), None)
    with pytest.raises(SignatureError, match=message):
        signatures.verify_standard(STANDARD_SECRET, headers, body, now=NOW, tolerance=WINDOW)


def test_freshdesk_needs_the_token_and_an_allowed_address() -> None:
    good = {"x-affroute-token": "fd-token"}
    signatures.verify_freshdesk("fd-token", good, "10.1.2.3", ["10.0.0.0/8"])
    signatures.verify_freshdesk("fd-token", good, "203.0.113.9", [])  # no list: any address
    with pytest.raises(SignatureError, match="does not match"):
        signatures.verify_freshdesk("fd-token", {"x-affroute-token": "nope"}, "10.1.2.3", [])
    with pytest.raises(SignatureError, match="header is missing"):
        signatures.verify_freshdesk("fd-token", {}, "10.1.2.3", [])
    with pytest.raises(SignatureError, match="not in AFFROUTE_FRESHDESK_ALLOWED_IPS"):
        signatures.verify_freshdesk("fd-token", good, "192.168.1.1", ["10.0.0.0/8", "127.0.0.1"])
