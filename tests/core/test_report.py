"""`genforge report`: a self-contained HTML page whose tables and images render in headless Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import matplotlib
import pytest

from genforge.core.errors import DataError
from genforge.core.report import build_report

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def make_run(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("task: toy2d\nsteps: 10\n")
    (folder / "metrics.json").write_text(json.dumps({"model": {"sliced_w2": 0.061, "mmd": 0.002},
                                                     "baseline: Gaussian fit": {"sliced_w2": 0.21, "mmd": 0.05}}))
    (folder / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "loss": 2.0 / s, "lr": 1e-3}) + "\n"
                                                  for s in range(1, 30)))
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.scatter([0, 1], [1, 0])
    (folder / "samples").mkdir()
    fig.savefig(folder / "samples" / "gallery.png")
    plt.close(fig)
    return folder


def test_report_embeds_tables_curves_and_images(tmp_path: Path) -> None:
    page = build_report(make_run(tmp_path / "run")).read_text()
    assert "baseline: Gaussian fit" in page and "0.061" in page and "task: toy2d" in page
    assert page.count("data:image/png;base64,") == 2  # loss curves + the gallery image
    assert "src=\"file:" not in page and "http" not in page.split("<body")[1]  # nothing external


@pytest.mark.skipif(shutil.which("chromium") is None, reason="headless Chromium (Debian package) not installed")
def test_report_renders_with_its_images_in_headless_chromium(tmp_path: Path) -> None:
    report = build_report(make_run(tmp_path / "run"))
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                          report.as_uri()], capture_output=True, text=True, timeout=120, check=True).stdout
    assert 'data-images-total="2"' in dom and 'data-images-loaded="2"' in dom
    assert "<table>" in dom


def test_missing_empty_or_malformed_runs_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        build_report(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="nothing to report"):
        build_report(tmp_path / "empty")
    run = make_run(tmp_path / "bad")
    (run / "metrics.json").write_text("{not json")
    with pytest.raises(DataError, match="malformed JSON"):
        build_report(run)
    assert not (run / "report.html").exists()
