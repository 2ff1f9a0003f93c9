"""Model files: the round trip predicts the same; a bad file says what is wrong with it,
and the router keeps routing on rules alone."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from affroute.config import RoutingConfig
from affroute.engine import Router
from affroute.ml.classifier import TicketClassifier
from affroute.ml.compiled import TicketModel
from affroute.ml.modelfile import FORMAT_VERSION, ModelError, load_model, read_manifest, save_model
from affroute.service.predictor import team_predictor_from_file
from tests.conftest import T0, TicketFactory, context_for
from tests.ml.conftest import Split


@pytest.fixture(scope="module")
def saved(team_model: TicketClassifier, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("models") / "team.model"
    model = TicketModel.from_classifier(
        team_model,
        label="true_team",
        fingerprint=team_model.data_fingerprint_,
        held_out=team_model.validation_.to_dict(),
    )
    save_model(model, path)
    return path


def copy_with(path: Path, target: Path, **members: bytes) -> Path:
    """A copy of a model file with some members replaced."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w") as out:
        for name in source.namelist():
            out.writestr(name, members.get(name.replace(".", "_"), source.read(name)))
    return target


def test_round_trip_gives_identical_predictions(
    saved: Path, team_model: TicketClassifier, team_split: Split
) -> None:
    loaded = load_model(saved)
    assert np.array_equal(loaded.predict(team_split.test), team_model.predict(team_split.test))
    assert np.allclose(
        loaded.predict_proba(team_split.test), team_model.predict_proba(team_split.test), atol=1e-12
    )
    compiled = TicketModel.from_classifier(team_model)
    assert [loaded.predict_one(t) for t in team_split.test[:50]] == [
        compiled.predict_one(t) for t in team_split.test[:50]
    ]


def test_manifest_holds_version_fingerprint_classes_thresholds_and_metrics(
    saved: Path, team_model: TicketClassifier
) -> None:
    manifest = read_manifest(saved)
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["classes"] == team_model.classes_.tolist()
    assert manifest["thresholds"] == team_model.thresholds_.tolist()
    assert manifest["info"]["fingerprint"] == team_model.data_fingerprint_
    assert len(team_model.data_fingerprint_) == 64
    assert manifest["info"]["held_out"]["macro_f1"] == team_model.validation_.macro_f1


def test_the_same_data_gives_the_same_fingerprint(team_split: Split) -> None:
    data = team_split.train[:300], team_split.y_train[:300]
    first = TicketClassifier(random_state=0, cv=3).fit(*data).data_fingerprint_
    assert TicketClassifier(random_state=5, cv=3).fit(*data).data_fingerprint_ == first
    relabelled = np.roll(data[1], 1)
    assert (
        TicketClassifier(random_state=0, cv=3).fit(data[0], relabelled).data_fingerprint_ != first
    )


def test_missing_and_non_model_files(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such model file"):
        load_model(tmp_path / "absent.model")
    junk = tmp_path / "junk.model"
    junk.write_bytes(b"this is not a model")
    with pytest.raises(ModelError, match=r"junk\.model is not an affroute model file"):
        load_model(junk)


def test_truncated_file_is_reported(saved: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.model"
    cut.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    with pytest.raises(ModelError, match=r"cut\.model"):
        load_model(cut)


def test_changed_weights_fail_the_checksum(saved: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(saved) as archive:
        arrays = bytearray(archive.read("arrays.npz"))
    arrays[-200] ^= 0xFF
    bad = copy_with(saved, tmp_path / "flipped.model", arrays_npz=bytes(arrays))
    with pytest.raises(ModelError, match=r"flipped\.model is corrupt: .*checksum"):
        load_model(bad)


def test_another_format_version_is_named(saved: Path, tmp_path: Path) -> None:
    manifest = read_manifest(saved)
    manifest["format_version"] = FORMAT_VERSION + 1
    newer = copy_with(saved, tmp_path / "newer.model", manifest_json=json.dumps(manifest).encode())
    with pytest.raises(
        ModelError,
        match=f"format version {FORMAT_VERSION + 1}; this affroute reads version {FORMAT_VERSION}",
    ):
        load_model(newer)


def test_router_routes_on_rules_alone_when_the_model_file_is_unusable(
    saved: Path, tmp_path: Path, example_config: RoutingConfig, make_ticket: TicketFactory
) -> None:
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"PK\x03\x04 broken")
    assert team_predictor_from_file(bad, example_config) is None
    decision = Router(example_config, predictor=None).route(
        make_ticket(), context_for(example_config), T0
    )
    assert decision.team == example_config.default_team
    assert decision.prediction is None
    assert team_predictor_from_file(saved, example_config) is not None


def test_a_model_of_other_labels_is_a_mismatch(
    tmp_path: Path, example_config: RoutingConfig, caplog: pytest.LogCaptureFixture
) -> None:
    texts = ["invoice unpaid"] * 4 + ["screen broken"] * 4
    model = TicketClassifier(cv=2).fit(texts, ["Purchase"] * 4 + ["Hardware"] * 4)
    path = tmp_path / "queues.model"
    save_model(TicketModel.from_classifier(model), path)
    assert team_predictor_from_file(path, example_config) is None
    assert "none of which is a team" in caplog.text
