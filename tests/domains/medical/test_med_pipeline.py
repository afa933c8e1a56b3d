"""Tiny end to end at 32^3: train the tiny slice prior (core Trainer) -> simulate -> reconstruct -> evaluate, through
the CLI, plus the one-line exit-2 errors for bad inputs (nothing written)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nibabel
import numpy as np
import pytest

from genforge.core.config import load_task_config, override
from genforge.datasets.phantoms import phantom
from genforge.datasets.volumes import write_nifti

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def tiny_prior(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import genforge.domains.medical.tasks  # noqa: F401 (registers medical.prior)

    out = tmp_path_factory.mktemp("prior")
    _, cfg, run = load_task_config(REPO / "configs/medical/tiny/prior.yaml")
    metrics = run(override(cfg, [f"train.out_dir={out}", f"export={out / 'prior_tiny.pt'}"]))
    card = json.loads((out / "prior_tiny.json").read_text())
    assert card["steps"] == cfg.train.steps and (out / "samples.png").is_file()
    scores = metrics["denoising"]["sigma=0.1"]
    assert scores["tweedie_psnr"] > scores["noisy_input_psnr"] + 1.0  # the prior denoises after 20 steps
    return out / "prior_tiny.pt"


def _cli(*args: str) -> tuple[int, str]:
    """Run ``genforge`` in-process; returns (exit code, captured stderr text via the raised message)."""
    from genforge.cli import main

    argv, sys.argv = sys.argv, ["genforge", *args]
    try:
        main()
    except SystemExit as exit_:
        return int(exit_.code or 0), ""
    finally:
        sys.argv = argv
    return 0, ""


def _psnr(capsys: pytest.CaptureFixture[str], recon: Path, reference: Path) -> float:
    capsys.readouterr()
    assert _cli("medical", "evaluate", "--recon", str(recon), "--reference", str(reference))[0] == 0
    lines = dict(line.split() for line in capsys.readouterr().out.strip().splitlines())
    assert set(lines) >= {"psnr_axial", "psnr_coronal", "psnr_sagittal", "ssim"}
    return float(lines["psnr"])


def test_simulate_reconstruct_evaluate(tmp_path: Path, tiny_prior: Path, capsys: pytest.CaptureFixture[str]) -> None:
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    volume = write_nifti(phantom("shepp_logan", (32, 32, 32), 7) * 2000.0 - 1000.0, affine, tmp_path / "v.nii.gz")
    y = tmp_path / "y.npz"
    assert _cli("medical", "simulate", "--volume", str(volume), "--modality", "ct", "--views", "8", "--size", "32",
                "--out", str(y))[0] == 0
    scores = {}
    for method in ("fbp", "admm-tv", "mbir-fast"):
        out = tmp_path / f"{method}.nii.gz"
        code, _ = _cli("medical", "reconstruct", "--measurement", str(y), "--method", method, "--ckpt",
                       str(tiny_prior), "--steps", "4" if method == "mbir-fast" else "10", "--out", str(out),
                       "--png", str(tmp_path / f"{method}.png"))
        assert code == 0 and (tmp_path / f"{method}.png").is_file()
        image = nibabel.load(str(out))
        assert image.shape == (32, 32, 32) and np.isfinite(np.asarray(image.dataobj)).all()
        np.testing.assert_allclose(image.affine, affine)
        scores[method] = _psnr(capsys, out, volume)
    assert scores["admm-tv"] > scores["fbp"] + 1.0
    assert scores["mbir-fast"] > 12.0


def test_bad_inputs_exit_2_and_write_nothing(tmp_path: Path, tiny_prior: Path) -> None:
    bad = np.ones((8, 16, 16))
    bad[2, 3, 4] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    np.save(tmp_path / "flat.npy", np.ones((16, 16)))
    np.save(tmp_path / "ok.npy", np.random.default_rng(0).random((16, 16, 16)))
    for source in ("nan.npy", "flat.npy", "missing.nii.gz"):
        assert _cli("medical", "simulate", "--volume", str(tmp_path / source), "--size", "16",
                    "--out", str(tmp_path / "y_bad.npz"))[0] == 2
    assert not (tmp_path / "y_bad.npz").exists()
    y = tmp_path / "y16.npz"
    assert _cli("medical", "simulate", "--volume", str(tmp_path / "ok.npy"), "--modality", "mri", "--size", "16",
                "--out", str(y))[0] == 0
    for method, ckpt in (("unknown", tiny_prior), ("mbir-fast", tiny_prior), ("dps", tmp_path / "nope.pt")):
        assert _cli("medical", "reconstruct", "--measurement", str(y), "--method", method, "--ckpt", str(ckpt),
                    "--out", str(tmp_path / "r.nii.gz"))[0] == 2  # unknown / 32-px prior vs 16-px data / missing
    with np.load(y) as data:
        np.savez(tmp_path / "broken.npz", **{k: data[k] for k in data.files if k != "y"}, y=data["y"][:, :4])
    assert _cli("medical", "reconstruct", "--measurement", str(tmp_path / "broken.npz"), "--method", "fbp",
                "--out", str(tmp_path / "r.nii.gz"))[0] == 2
    assert not (tmp_path / "r.nii.gz").exists()
    assert not list(tmp_path.glob(".*tmp*"))
