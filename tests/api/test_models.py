"""The model registry over HTTP on SQLite and PostgreSQL: register, shadow, promote, demote
seen by a second worker; bad files refused; next-team suggestions; live outcomes;
training from the database."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from affroute.ml.classifier import TicketClassifier
from affroute.ml.compiled import TicketModel
from affroute.ml.modelfile import save_model
from affroute.service.keys import Role
from affroute.service.learning import training_rows
from affroute.service.runtime import MODELS_COUNTER, bump
from affroute.service.uow import UnitOfWork
from affroute.store.db import make_engine, session_factory
from affroute.store.models import ModelRow
from tests.api.conftest import Server, refresh_facts, run_server, seed_catalog
from tests.api.test_dashboard import add_user, signed_in

# Words that say which team a ticket belongs to; the example's rules pin none of them.
TEAM_WORDS = {
    "promotions": "coupon banner creative landing page",
    "analytics": "dashboard report export chart numbers",
    "general_support": "login password portal account locked",
}
PROMO, ANALYTICS = TEAM_WORDS["promotions"], TEAM_WORDS["analytics"]


def _model_bytes(
    tmp_path: Path, label: str = "team", classes: dict[str, str] | None = None
) -> bytes:
    texts, labels = [], []
    for team, words in (classes or TEAM_WORDS).items():
        for i in range(30):
            texts.append({"subject": f"{words} {i}", "body": words})
            labels.append(team)
    classifier = TicketClassifier(random_state=0).fit(texts, labels)
    path = tmp_path / f"{label}.model"
    save_model(
        TicketModel.from_classifier(
            classifier,
            label=label,
            fingerprint=classifier.data_fingerprint_,
            held_out=classifier.validation_.to_dict(),
        ),
        path,
    )
    return path.read_bytes()


def _register(client: httpx.Client, content: bytes, name: str) -> dict[str, Any]:
    response = client.post(
        "/api/v1/models",
        params={"name": name},
        content=content,
        headers={"content-type": "application/octet-stream"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _ingest(client: httpx.Client, subject: str) -> dict[str, Any]:
    response = client.post("/api/v1/tickets", json={"subject": subject, "region": "NA"})
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()
    detail = client.get(f"/api/v1/tickets/{ticket['id']}").json()
    trace: dict[str, Any] = detail["decisions"][0]["trace"]
    return trace


@pytest.fixture
def second_worker(server: Server) -> Iterator[httpx.Client]:
    """Another API process on the same database, with its own routing cache."""
    for other in run_server(server.database_url):
        with httpx.Client(
            base_url=other.url, headers={"X-API-Key": server.keys["admin"]}, timeout=30
        ) as client:
            yield client


def test_register_shadow_promote_demote_reach_every_worker(
    admin: httpx.Client, second_worker: httpx.Client, tmp_path: Path
) -> None:
    content = _model_bytes(tmp_path)
    model = _register(admin, content, "words")
    assert model["mode"] == "registered"
    assert model["classes"] == sorted(TEAM_WORDS)
    assert len(model["fingerprint"]) == 64 and model["metrics"]["macro_f1"] > 0.9
    assert _register(admin, content, "again")["id"] == model["id"]  # same bytes, same entry
    assert [m["id"] for m in second_worker.get("/api/v1/models").json()] == [model["id"]]

    # Registered only: the model is not asked.
    assert _ingest(second_worker, PROMO)["prediction"] is None

    assert admin.post(f"/api/v1/models/{model['id']}/shadow").json()["mode"] == "shadow"
    trace = _ingest(second_worker, PROMO)
    assert trace["team"] == "general_support" and trace["team_source"] == "default"
    assert trace["prediction"] is None
    shadow = trace["shadow_prediction"]
    assert shadow["label"] == "promotions" and shadow["model"] == "words"
    assert shadow["mode"] == "shadow" and shadow["acted"] is False
    assert shadow["confidence"] >= shadow["threshold"]  # confident, and still did not act

    assert admin.post(f"/api/v1/models/{model['id']}/promote").json()["mode"] == "active"
    trace = _ingest(second_worker, PROMO)
    assert (trace["team"], trace["team_source"]) == ("promotions", "model:words")
    assert trace["prediction"]["mode"] == "active" and trace["prediction"]["acted"] is True
    assert trace["shadow_prediction"] is None  # promoting took it out of shadow

    assert admin.post(f"/api/v1/models/{model['id']}/demote").json()["mode"] == "registered"
    trace = _ingest(second_worker, PROMO)
    assert trace["team_source"] == "default" and trace["prediction"] is None


def test_bad_files_and_unusable_models_are_refused(admin: httpx.Client, tmp_path: Path) -> None:
    response = admin.post("/api/v1/models", content=b"not a model")
    assert response.status_code == 422
    assert "not an affroute model file" in response.json()["error"]["message"]

    # A file whose weights were altered fails its checksum.
    content = _model_bytes(tmp_path)
    altered = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as src, zipfile.ZipFile(altered, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, data[:-8] + b"\0" * 8 if item.filename == "arrays.npz" else data)
    response = admin.post("/api/v1/models", content=altered.getvalue())
    assert response.status_code == 422 and "checksum" in response.json()["error"]["message"]

    # Classes that are no team of the configuration: registered, but not put to work.
    strangers = _register(admin, _model_bytes(tmp_path, classes={"x": "aa bb", "y": "cc dd"}), "s")
    response = admin.post(f"/api/v1/models/{strangers['id']}/promote")
    assert response.status_code == 422 and "none of which is a team" in response.text
    assert admin.get(f"/api/v1/models/{strangers['id']}").json()["mode"] == "registered"
    assert _ingest(admin, "coupon banner")["team_source"] == "default"  # rules route on


def test_a_stored_model_gone_bad_leaves_routing_to_the_rules(
    server: Server, admin: httpx.Client, tmp_path: Path
) -> None:
    model = _register(admin, _model_bytes(tmp_path), "words")
    admin.post(f"/api/v1/models/{model['id']}/promote")
    assert _ingest(admin, PROMO)["team_source"] == "model:words"

    def damage(session: Session) -> None:
        row = session.get(ModelRow, model["id"])
        assert row is not None
        row.content = row.content[:100]
        bump(session, MODELS_COUNTER)

    _uow(server).run(damage)
    # A worker that starts now reads the damaged bytes (running ones keep what they loaded).
    for fresh in run_server(server.database_url):
        with httpx.Client(
            base_url=fresh.url, headers={"X-API-Key": server.keys["admin"]}, timeout=30
        ) as client:
            trace = _ingest(client, PROMO)
            assert trace["team_source"] == "default" and trace["prediction"] is None
            listed = client.get(f"/api/v1/models/{model['id']}").json()
    assert listed["mode"] == "active" and "not an affroute model file" in listed["problem"]


def test_suggestion_after_a_reassignment_skips_tried_teams(
    admin: httpx.Client, tmp_path: Path
) -> None:
    model = _register(admin, _model_bytes(tmp_path), "words")
    created = admin.post("/api/v1/tickets", json={"subject": ANALYTICS, "region": "NA"}).json()
    # No model in use: no suggestion, and the answer says why.
    first = admin.get(f"/api/v1/tickets/{created['id']}/suggestion").json()
    assert first["team"] is None and "no team model" in first["reason"]

    admin.post(f"/api/v1/models/{model['id']}/shadow")
    moved = admin.post(
        f"/api/v1/tickets/{created['id']}/reassign",
        json={"team": "analytics", "reason": "wrong desk"},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["team"] == "analytics"
    suggestion = admin.get(f"/api/v1/tickets/{created['id']}/suggestion").json()
    assert moved.json()["suggestion"] == suggestion  # the reassignment's answer names it too
    assert suggestion["path"] == ["general_support", "analytics"]
    # analytics is the model's first choice, but was tried: the best remaining one is left.
    assert suggestion["team"] == "promotions" and suggestion["model"] == "words"
    assert 0 < suggestion["probability"] < 0.5


def _uow(server: Server) -> UnitOfWork:
    return UnitOfWork(session_factory(make_engine(server.database_url)))


def test_live_outcomes_count_confirmed_and_corrected(
    server: Server, admin: httpx.Client, tmp_path: Path
) -> None:
    model = _register(admin, _model_bytes(tmp_path), "words")
    admin.post(f"/api/v1/models/{model['id']}/promote")
    ids = []
    for subject in (PROMO, f"{PROMO} again", ANALYTICS):
        created = admin.post("/api/v1/tickets", json={"subject": subject, "region": "NA"}).json()
        assert created["team_source"] == "model:words"
        ids.append(created["id"])
    assert admin.post(f"/api/v1/tickets/{ids[0]}/status", json={"status": "solved"}).is_success
    moved = admin.post(
        f"/api/v1/tickets/{ids[1]}/reassign", json={"team": "analytics", "reason": "wrong"}
    )
    assert moved.is_success
    assert admin.post(f"/api/v1/tickets/{ids[1]}/status", json={"status": "solved"}).is_success

    refresh_facts(server)  # what each worker does every few seconds
    found = admin.get("/api/v1/metrics/models").json()
    live = {r["team"]: r for r in found if r["source"] == "live"}
    promotions, analytics = live["promotions"], live["analytics"]
    assert (promotions["decisions"], promotions["confirmed"], promotions["corrected"]) == (2, 1, 1)
    assert promotions["precision"] == 0.5 and promotions["recall"] == 1.0
    assert (analytics["decisions"], analytics["confirmed"], analytics["corrected"]) == (1, 0, 0)
    assert analytics["missed"] == 1  # the corrected ticket ended there
    assert analytics["recall"] == 0.0

    # The dashboard's models page shows the same live figures beside the held-out ones.
    add_user(server, "modeller", Role.ANALYST)
    with signed_in(server, "modeller") as analyst:
        page = analyst.get("/models").text
    assert f'data-model="{model["id"]}"' in page and 'data-field="mode">active<' in page
    row = page.split('data-class="promotions"', 1)[1].split("</tr>", 1)[0]
    assert "<td>2</td><td>1</td><td>1</td>" in row  # acted, confirmed, corrected
    assert 'data-field="live-precision">0.500<' in row


def test_train_from_db_labels_with_the_final_team(
    server: Server, admin: httpx.Client, tmp_path: Path
) -> None:
    for team, words in TEAM_WORDS.items():
        for i in range(12):
            created = admin.post(
                "/api/v1/tickets", json={"subject": f"{words} {i}", "region": "NA"}
            ).json()
            if team != "general_support":  # the router sent it there: people moved it
                assert admin.post(
                    f"/api/v1/tickets/{created['id']}/reassign",
                    json={"team": team, "reason": "its desk"},
                ).is_success
            assert admin.post(
                f"/api/v1/tickets/{created['id']}/status", json={"status": "solved"}
            ).is_success
    admin.post("/api/v1/tickets", json={"subject": "still open", "region": "NA"})

    records, labels = _uow(server).run(lambda s: training_rows(session=s, label="team"))
    assert len(records) == 36  # resolved tickets only
    assert sorted(set(labels)) == sorted(TEAM_WORDS)  # not the router's general_support alone
    final_team = {
        r["subject"].rsplit(" ", 1)[0]: label for r, label in zip(records, labels, strict=True)
    }
    assert final_team == {words: team for team, words in TEAM_WORDS.items()}

    out = tmp_path / "from-db.model"
    trained = subprocess.run(
        [sys.executable, "-m", "affroute", "train", "--from-db", "--database-url",
         server.database_url, "--label", "team", "--out", str(out)],
        check=False, capture_output=True, text=True, timeout=120,
        env={**os.environ, "COLUMNS": "400"},
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert f"model written to {out}" in trained.stdout
    model = _register(admin, out.read_bytes(), "from-db")
    assert model["classes"] == sorted(TEAM_WORDS) and model["label"] == "team"


def test_train_from_db_reads_the_catalog_as_it_was_when_routed(
    server: Server, admin: httpx.Client
) -> None:
    seed_catalog(admin)
    created = admin.post(
        "/api/v1/tickets",
        json={"subject": "payout late", "region": "NA", "partner_id": "P003", "deal_id": "D-BIG"},
    ).json()
    solved = admin.post(f"/api/v1/tickets/{created['id']}/status", json={"status": "solved"})
    assert solved.is_success
    # Afterwards the partner moves up a tier and the deal grows: the ticket saw neither.
    partner = admin.get("/api/v1/partners/P003").json()
    assert partner.pop("tier") == "silver"
    del partner["updated_at"]
    assert admin.put("/api/v1/partners/P003", json=partner | {"tier": "premium"}).is_success
    deal = {"id": "D-BIG", "partner_id": "P003", "value": 250_000}
    assert admin.put("/api/v1/deals/D-BIG", json=deal).is_success

    records, _ = _uow(server).run(lambda s: training_rows(session=s, label="team"))
    (record,) = records
    assert record["subject"] == "payout late"
    assert record["partner_tier"] == "silver" and record["deal_value"] == 80_000
