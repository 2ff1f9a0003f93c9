"""`affroute train` and `affroute evaluate`, run as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from affroute.ml.modelfile import read_manifest
from tests.test_cli import affroute


@pytest.fixture(scope="module")
def tickets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folders = []
    for seed in (3, 4):
        folder = tmp_path_factory.mktemp(f"program{seed}")
        result = affroute(
            "generate", "--out", str(folder), "--seed", str(seed), "--partners", "80",
            "--tickets", "800",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        folders.append(folder)
    return folders[0] / "tickets.csv", folders[1] / "tickets.jsonl"


def test_train_then_evaluate(tickets: tuple[Path, Path], tmp_path: Path) -> None:
    train_file, test_file = tickets
    model = tmp_path / "priority.model"
    trained = affroute(
        "train", "--data", str(train_file), "--label", "true_priority", "--out", str(model)
    )
    assert trained.returncode == 0, trained.stderr
    assert "held out (cross-validated): macro-F1" in trained.stdout
    assert f"model written to {model}" in trained.stdout
    manifest = read_manifest(model)
    assert manifest["classes"] == ["p1", "p2", "p3", "p4"]
    assert manifest["info"]["label"] == "true_priority"
    assert "urgency" in manifest["info"]["columns"]

    curve = tmp_path / "curve.png"
    evaluated = affroute("evaluate", str(model), "--data", str(test_file), "--curve", str(curve))
    assert evaluated.returncode == 0, evaluated.stderr
    for expected in ("800 tickets: macro-F1", "confusion matrix", "acts on", f"curve: {curve}"):
        assert expected in evaluated.stdout
    assert curve.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_names_a_broken_model_file(tickets: tuple[Path, Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken.model"
    broken.write_text("not a model")
    result = affroute("evaluate", str(broken), "--data", str(tickets[1]))
    assert result.returncode == 1
    assert "broken.model is not an affroute model file" in result.stderr


def test_train_names_a_missing_label_column(tickets: tuple[Path, Path], tmp_path: Path) -> None:
    result = affroute(
        "train", "--data", str(tickets[0]), "--label", "queue", "--out", str(tmp_path / "m")
    )
    assert result.returncode != 0
    assert "'queue'" in result.stderr
