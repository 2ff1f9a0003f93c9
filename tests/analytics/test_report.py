"""``affroute report`` run as a user runs it, on the hand-built program."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_report_is_one_self_contained_file_with_the_numbers(
    database_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "share" / "report.html"
    result = subprocess.run(
        [sys.executable, "-m", "affroute", "report", "--from", "2026-03-01", "--to", "2026-03-31",
         "--out", str(out), "--database-url", database_url],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    text = re.sub(
        r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"<svg.*?</svg>", "", page, flags=re.S))
    )
    assert "Pearson r = -0.955" in text  # -720 / sqrt(2900 * 196)
    assert "Spearman &rho; = -1.000" in text
    assert "under $5K before 2 2 3.00 3.00" in text  # two tickets before v2, 2 h and 4 h
    assert "rule:r1 2 1 50.0% 1 50.0%" in text
    assert "model:m1 live analytics 1 1 0 100.0% 50.0%" in text
    assert "2026-03-01 to 2026-03-31" in text
    assert page.count("<svg") == 5
    # Nothing to fetch: no scripts, stylesheets, images or fonts from elsewhere.
    assert not re.search(r"(src|href)=\"(https?:)?//|url\((?!#)|<script|<link", page)
