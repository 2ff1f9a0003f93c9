"""Surveys over real HTTP on SQLite and PostgreSQL: issued on solve, delivered as signed
webhooks, answered on the public page behind a single-use link, or imported from a tool."""

from __future__ import annotations

import base64
import json
import logging
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from standardwebhooks.webhooks import Webhook

from affroute.api.app import create_app
from affroute.settings import Settings
from tests.api.conftest import (
    _fresh_database,
    chromium_path,
    refresh_facts,
    run_server,
    seed_catalog,
)
from tests.conftest import EXAMPLE

SECRET = "whsec_" + base64.b64encode(b"a test secret of thirty-two bytes").decode()


class Receiver:
    """A local HTTP endpoint standing in for the tool that mails partners their links."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], str]] = []
        self.fail_first = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"])).decode()
                if receiver.fail_first > 0:
                    receiver.fail_first -= 1
                    self.send_response(503)
                else:
                    receiver.deliveries.append((dict(self.headers.items()), body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, kind: str, count: int = 1, timeout: float = 20) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [json.loads(b) for _, b in self.deliveries if json.loads(b)["type"] == kind]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no {kind} delivered within {timeout}s: {self.deliveries}")


def survey_config(tmp_path: Path, **surveys: Any) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["surveys"] = {"delay": 0.001, "reminder_after": 0.02, "expires_after": "1d"} | surveys
    path = tmp_path / "surveys.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture(params=["sqlite", "postgresql"])
def live(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pg_ok: bool,
    receiver: Receiver,
) -> Iterator[Any]:
    """A server that delivers surveys quickly to the local receiver."""
    config = survey_config(tmp_path_factory.mktemp("cfg"))
    for url in _fresh_database(request.param, tmp_path_factory, pg_ok):
        yield from run_server(
            url,
            config,
            survey_dispatch_seconds=0.1,
            survey_webhook_url=receiver.url,
            webhook_secret=SECRET,
        )


def solved_ticket(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"subject": "Where is my payout?", "body": "March commissions missing"} | fields
    created = client.post("/api/v1/tickets", json=body)
    assert created.status_code == 201, created.text
    ticket_id = created.json()["id"]
    solved = client.post(f"/api/v1/tickets/{ticket_id}/status", json={"status": "solved"})
    assert solved.status_code == 200, solved.text
    return dict(created.json())


def open_link(url: str) -> httpx.Response:
    with httpx.Client(timeout=10) as browser:
        return browser.get(url, follow_redirects=False)


def event_kinds(client: httpx.Client, ticket_id: str) -> list[str]:
    return [e["kind"] for e in client.get(f"/api/v1/tickets/{ticket_id}").json()["events"]]


def test_a_solved_ticket_gets_a_signed_invitation_and_a_single_use_link(
    live: Any, receiver: Receiver
) -> None:
    with live.client("admin") as admin:
        seed_catalog(admin)
        ticket = solved_ticket(admin, partner_id="P005", external_id="zd-100")
        [invite] = receiver.wait_for("survey.invite")
        headers, body = next((h, b) for h, b in receiver.deliveries if "invite" in b)
        # Any Standard Webhooks library verifies it with the shared secret.
        verified = Webhook(SECRET).verify(body, {k.lower(): v for k, v in headers.items()})
        assert verified["data"]["ticket_id"] == ticket["id"]
        assert invite["data"]["external_id"] == "zd-100"
        assert headers["webhook-id"] == f"survey.invite:{invite['data']['survey_id']}"
        link = invite["data"]["survey_url"]
        assert link.startswith("http://127.0.0.1:8000/s/")  # the configured public address
        token = link.rsplit("/", 1)[1]

        with httpx.Client(base_url=live.url, timeout=10) as browser:
            opened = browser.get(f"/s/{token}", follow_redirects=False)
            assert opened.status_code == 303 and opened.headers["location"] == "/s"
            assert opened.headers["referrer-policy"] == "no-referrer"
            cookie = opened.headers["set-cookie"].lower()
            assert "httponly" in cookie and "samesite=strict" in cookie and "path=/s" in cookie
            form = browser.get("/s")
            assert form.status_code == 200 and "Where is my payout?" in form.text
            assert token not in form.text  # the page never shows the token
            csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text).group(1)  # type: ignore[union-attr]
            forged = browser.post("/s", data={"csrf": "0" * 64, "csat": "1"})
            assert forged.status_code == 403
            sent = browser.post(
                "/s", data={"csrf": csrf, "csat": "4", "nps": "9", "comment": "Quick, thanks"}
            )
            assert sent.status_code == 200 and "Thank you" in sent.text

        again = open_link(f"{live.url}/s/{token}")
        assert again.status_code == 409 and "answered already" in again.text
        [survey] = admin.get("/api/v1/surveys", params={"ticket_id": ticket["id"]}).json()
        assert survey | {"status": "answered", "csat": 4, "nps": 9} == survey
        assert survey["comment"] == "Quick, thanks" and survey["source"] == "page"
        assert survey["team"] == ticket["team"] and survey["priority"] == ticket["priority"]
        kinds = event_kinds(admin, ticket["id"])
        for kind in ("survey_scheduled", "survey_sent", "survey_answered"):
            assert kind in kinds


def answer_on_the_page(server_url: str, link: str, **fields: str) -> None:
    with httpx.Client(base_url=server_url, timeout=10) as browser:
        opened = browser.get(f"/s/{link.rsplit('/', 1)[1]}", follow_redirects=True)
        assert opened.status_code == 200  # by way of /s
        form = opened.text
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form).group(1)  # type: ignore[union-attr]
        sent = browser.post("/s", data={"csrf": csrf, **fields})
        assert sent.status_code == 200 and "Thank you" in sent.text


def test_an_answer_is_announced_to_the_events_webhook(
    tmp_path_factory: pytest.TempPathFactory, pg_ok: bool, receiver: Receiver
) -> None:
    config = survey_config(tmp_path_factory.mktemp("cfg"))
    for url in _fresh_database("sqlite", tmp_path_factory, pg_ok):
        for server in run_server(
            url, config, survey_dispatch_seconds=0.1, survey_webhook_url=receiver.url,
            events_webhook_url=receiver.url, outbox_seconds=0.1, webhook_secret=SECRET,
        ):  # fmt: skip
            with server.client("admin") as admin:
                seed_catalog(admin)
                ticket = solved_ticket(admin, partner_id="P005")
                [invite] = receiver.wait_for("survey.invite")
                answer_on_the_page(server.url, invite["data"]["survey_url"], csat="2", nps="3")
                [answered] = receiver.wait_for("survey.answered")
                headers, body = next((h, b) for h, b in receiver.deliveries if "answered" in b)
                verified = Webhook(SECRET).verify(body, {k.lower(): v for k, v in headers.items()})
                assert verified == answered
                data = answered["data"]
                assert (data["ticket_id"], data["partner_id"]) == (ticket["id"], "P005")
                assert (data["csat"], data["nps"], data["source"]) == (2, 3, "page")
                assert data["team"] == ticket["team"]
                assert data["decided_by"] == ticket["team_source"]


def test_tampered_guessed_and_unknown_links_are_refused_kindly(
    live: Any, receiver: Receiver
) -> None:
    with live.client("admin") as admin:
        seed_catalog(admin)
        solved_ticket(admin, partner_id="P006")
        [invite] = receiver.wait_for("survey.invite")
        token = invite["data"]["survey_url"].rsplit("/", 1)[1]
        # Change a character in the middle of the signature (the last base64 character
        # may carry unused bits, so changing it need not change the signature).
        middle = len(token) - 8
        flipped = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
        for bad in (flipped, "x" * len(token), token.split(".")[0] + ".", "nothing"):
            refused = open_link(f"{live.url}/s/{bad}")
            assert refused.status_code == 403, bad
            assert "This link does not work" in refused.text
            assert (
                "set-cookie" not in refused.headers
                or 'affroute_survey=""' in refused.headers["set-cookie"]
            )
        with httpx.Client(base_url=live.url, timeout=10) as browser:
            assert browser.get("/s").status_code == 403  # no cookie: no survey
        # The good link still works after all that.
        assert open_link(f"{live.url}/s/{token}").status_code == 303


def test_failed_deliveries_are_retried_and_reminders_go_once(live: Any, receiver: Receiver) -> None:
    receiver.fail_first = 1
    with live.client("admin") as admin:
        seed_catalog(admin)
        ticket = solved_ticket(admin, partner_id="P007")
        [invite] = receiver.wait_for("survey.invite", timeout=120)
        [reminder] = receiver.wait_for("survey.reminder")
        assert reminder["data"]["survey_id"] == invite["data"]["survey_id"]
        time.sleep(0.5)
        assert len(receiver.wait_for("survey.reminder")) == 1
        assert "survey_reminded" in event_kinds(admin, ticket["id"])


def test_skipped_tickets_and_partner_cooldown(live: Any, receiver: Receiver) -> None:
    with live.client("admin") as admin:
        seed_catalog(admin)
        spam = solved_ticket(admin, partner_id="P008", tags=["spam"])
        first = solved_ticket(admin, partner_id="P009")
        second = solved_ticket(admin, partner_id="P009")
        for ticket in (spam, second):
            events = admin.get(f"/api/v1/tickets/{ticket['id']}").json()["events"]
            [skipped] = [e for e in events if e["kind"] == "survey_skipped"]
            assert skipped["data"]["reason"] in (
                "tagged 'spam'",
                "the partner was surveyed recently",
            )
        assert "survey_scheduled" in event_kinds(admin, first["id"])
        assert admin.get("/api/v1/surveys", params={"ticket_id": spam["id"]}).json() == []


def test_responses_from_survey_tools_by_webhook_and_csv(live: Any) -> None:
    with live.client("integration") as tool, live.client("admin") as admin:
        seed_catalog(admin)
        a = solved_ticket(admin, partner_id="P010", external_id="fd-1", tags=["spam"])
        b = solved_ticket(admin, partner_id="P011", external_id="fd-2")
        c = solved_ticket(admin, partner_id="P012", external_id="fd-3")
        still_open = admin.post("/api/v1/tickets", json={"subject": "x", "body": "y"}).json()

        body = {"external_id": "fd-1", "response_id": "zig-1", "csat": 2, "nps": 3}
        first = tool.post("/api/v1/surveys/responses", json=body)
        assert first.status_code == 201, first.text
        assert first.json()["survey"]["ticket_id"] == a["id"] and not first.json()["replayed"]
        repeat = tool.post("/api/v1/surveys/responses", json=body)
        assert repeat.json()["replayed"] is True
        bad = tool.post("/api/v1/surveys/responses", json={"ticket_id": b["id"], "csat": 7})
        assert bad.status_code == 422 and "csat" in bad.text
        early = tool.post(
            "/api/v1/surveys/responses", json={"ticket_id": still_open["id"], "csat": 5}
        )
        assert early.status_code == 409
        missing = tool.post("/api/v1/surveys/responses", json={"external_id": "nope", "csat": 5})
        assert missing.status_code == 404 and "external_id" in missing.text

        export = (
            "Response ID,Ticket,Q1 Satisfaction,Q2 Recommend,Feedback\n"
            "sm-1,fd-2,5,10,Great\n"
            "sm-2,fd-3,abc,8,\n"
            "sm-3,fd-404,4,,\n"
            "sm-4,fd-3,3,6,Slow answer\n"
        )
        columns = {
            "response_id": "Response ID", "external_id": "Ticket", "csat": "Q1 Satisfaction",
            "nps": "Q2 Recommend", "comment": "Feedback",
        }  # fmt: skip
        imported = tool.post(
            "/api/v1/surveys/responses/import",
            params=columns,
            content=export,
            headers={"content-type": "text/csv"},
        )
        assert imported.status_code == 200, imported.text
        result = imported.json()
        assert result["recorded"] == 2 and result["replayed"] == 0
        assert [(e["line"], e["field"]) for e in result["errors"]] == [
            (3, "csat"), (4, "external_id"),
        ]  # fmt: skip
        [survey_c] = admin.get("/api/v1/surveys", params={"ticket_id": c["id"]}).json()
        assert survey_c["csat"] == 3 and survey_c["comment"] == "Slow answer"
        assert survey_c["source"] == "import"


def test_satisfaction_and_routing_outcomes(live: Any) -> None:
    with live.client("integration") as tool, live.client("admin") as admin:
        seed_catalog(admin)
        answers = [(5, 10), (3, 6), (4, 9)]
        # Partners from one region, so one team handles all three.
        tickets = [solved_ticket(admin, partner_id=p) for p in ("P006", "P009", "P012")]
        for t, (csat, nps) in zip(tickets, answers, strict=True):
            reply = {"ticket_id": t["id"], "csat": csat, "nps": nps}
            assert tool.post("/api/v1/surveys/responses", json=reply).status_code == 201
        refresh_facts(live)  # the outcomes are read from the analytics facts
        with live.client("analyst") as analyst:
            rows = analyst.get("/api/v1/surveys/satisfaction", params={"by": "team"}).json()
            outcomes = analyst.get("/api/v1/surveys/outcomes", params={"by": "team"}).json()
        team = tickets[0]["team"]
        assert all(t["team"] == team for t in tickets)
        [whole] = [r for r in rows if r["group"] == team and r["week"] is None]
        assert whole["responses"] == 3 and whole["csat"] == pytest.approx(4.0)
        # Two promoters (10, 9), one detractor (6): NPS = (2 - 1) / 3.
        assert whole["nps"] == pytest.approx(100 / 3)
        assert [r for r in rows if r["group"] == team and r["week"] is not None]
        [outcome] = [o for o in outcomes if o["group"] == team]
        assert outcome["tickets"] == 3 and outcome["solved"] == 3
        assert outcome["csat"] == pytest.approx(4.0) and outcome["reassignment_rate"] == 0
        assert outcome["median_resolution_hours"] is not None


def test_survey_tokens_never_reach_the_access_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    create_app(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}"))
    access = logging.getLogger("uvicorn.access")
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        # The way uvicorn writes an access line.
        access.info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/s/SECRET.TOKEN", "1.1", 303
        )
    assert "SECRET.TOKEN" not in caplog.text and "/s/…" in caplog.text


def test_a_webhook_url_without_a_secret_is_refused(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'x.db'}", survey_webhook_url="http://127.0.0.1:9/"
    )
    with pytest.raises(ValueError, match="AFFROUTE_WEBHOOK_SECRET"):
        create_app(settings)


def test_an_expired_link_is_refused(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, pg_ok: bool, receiver: Receiver
) -> None:
    config = survey_config(tmp_path, reminder_after=None, expires_after=0.01)  # 0.6 s
    for url in _fresh_database("sqlite", tmp_path_factory, pg_ok):
        for server in run_server(
            url,
            config,
            survey_dispatch_seconds=0.1,
            survey_webhook_url=receiver.url,
            webhook_secret=SECRET,
        ):
            with server.client("admin") as admin:
                seed_catalog(admin)
                ticket = solved_ticket(admin, partner_id="P005")
                [invite] = receiver.wait_for("survey.invite")
                time.sleep(1.0)
                expired = open_link(
                    invite["data"]["survey_url"].replace("http://127.0.0.1:8000", server.url)
                )
                assert expired.status_code == 410 and "closed" in expired.text
                time.sleep(0.3)  # the dispatcher marks it expired
                [survey] = admin.get("/api/v1/surveys", params={"ticket_id": ticket["id"]}).json()
                assert survey["status"] == "expired"


def test_a_partner_answers_on_a_phone_in_a_real_browser(live: Any, receiver: Receiver) -> None:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with live.client("admin") as admin:
        seed_catalog(admin)
        ticket = solved_ticket(admin, partner_id="P005", subject="Tracking pixel not firing")
        [invite] = receiver.wait_for("survey.invite")
        link = invite["data"]["survey_url"].replace("http://127.0.0.1:8000", live.url)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
            phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
            page = phone.new_page()
            page.goto(link)
            assert page.url == f"{live.url}/s"  # the token left the address bar at once
            assert page.get_by_text("Tracking pixel not firing").is_visible()
            assert page.locator('meta[name="referrer"]').get_attribute("content") == "no-referrer"
            page.get_by_text("Send").click()  # nothing chosen yet: the browser asks first
            assert page.url == f"{live.url}/s" and not page.get_by_text("Thank you").count()
            page.locator("label", has=page.locator('input[name="csat"][value="5"]')).click()
            page.locator("label", has=page.locator('input[name="nps"][value="10"]')).click()
            page.get_by_label("Anything you would like to tell us?").fill("Fixed within an hour")
            page.get_by_text("Send").click()
            page.get_by_text("Thank you!").wait_for()
            page.goto(link)  # the link again: answered already
            assert page.get_by_text("You have answered already").is_visible()
            browser.close()
        [survey] = admin.get("/api/v1/surveys", params={"ticket_id": ticket["id"]}).json()
        assert (survey["csat"], survey["nps"], survey["comment"]) == (5, 10, "Fixed within an hour")


def surveys_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "affroute", "surveys", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "200", "PATH": ""},
    )


def test_the_command_line_imports_an_export_and_reports(live: Any, tmp_path: Path) -> None:
    with live.client("admin") as admin:
        seed_catalog(admin)
        done = solved_ticket(admin, partner_id="P006", external_id="qx-1")
    export = tmp_path / "qualtrics.csv"
    export.write_text("ResponseId,TicketRef,Sat\nR_1,qx-1,5\nR_2,qx-2,4\nR_3,qx-1,five\n")
    common = ["--database-url", live.database_url]
    imported = surveys_command(
        "import", str(export), "--column", "response_id=ResponseId",
        "--column", "external_id=TicketRef", "--column", "csat=Sat", *common,
    )  # fmt: skip
    assert imported.returncode == 1, imported.stderr
    assert "recorded 1 responses, 0 seen before, 2 refused" in imported.stdout
    assert f"{export}:3: external_id:" in imported.stderr
    assert f"{export}:4: csat:" in imported.stderr
    report = surveys_command("report", "--by", "team", *common)
    assert report.returncode == 0, report.stderr
    [line] = [row for row in report.stdout.splitlines() if done["team"] in row]
    assert "5.00" in line
