"""Every reader and file-taking CLI entry rejects bad input with one clear error naming the file
(``GenforgeError``; exit code 2 and one line on the CLI) and writes nothing. The corpus sizes per reader
are listed in tests/robustness/README.md (checked here)."""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _corpus import FIXTURES, Maker, fixture, generic_cases, replaced, written
from _domain_files import (
    burgers_npz,
    burgers_npz_with,
    dicom_series,
    dicom_slice,
    extxyz_trajectory,
    nifti_volume,
    npy_volume,
    splat_ply,
)

from genforge.cli import main
from genforge.core.config import load_task_config, task_from_dict
from genforge.core.errors import GenforgeError
from genforge.core.render.ply import load_ply
from genforge.core.report import build_report
from genforge.core.train.checkpoint import write_checkpoint
from genforge.core.train.inference import load_into, load_trained
from genforge.datasets.crystals import read_crystal_csv
from genforge.datasets.nerf_synthetic import read_transforms
from genforge.datasets.volumes import read_volume
from genforge.domains.materials.io import read_structures
from genforge.domains.pde.io import load_trajectories
from genforge.domains.toy2d.task import build_model
from genforge.domains.trajectories.io import read_extxyz

MATERIALS = FIXTURES / "materials"
RECIPE = Path(__file__).resolve().parents[2] / "configs" / "toy2d" / "tiny" / "toy2d.yaml"
XYZ, CIF, SDF, CSV = ((MATERIALS / name).read_bytes() for name in ("tiny.xyz", "tiny.cif", "tiny.sdf",
                                                                      "cdvae_tiny.csv"))
YAML = RECIPE.read_bytes()


def _checkpoint_bytes(hidden: int) -> bytes:
    """A genuine toy2d checkpoint whose network has width ``hidden`` (the recipe's is 64)."""
    _, cfg, _ = load_task_config(RECIPE)
    model = build_model(cfg) if hidden == 64 else torch.nn.Linear(hidden, hidden)
    buffer = Path(os.environ.get("TMPDIR", "/tmp")) / f".genforge_corpus_{os.getpid()}_{hidden}.pt"
    config = {"task": "toy2d", **{k: v for k, v in __import__("yaml").safe_load(YAML).items() if k != "task"}}
    write_checkpoint({"format": 1, "step": 1, "model": model.state_dict(), "ema": None, "config": config}, buffer)
    data = buffer.read_bytes()
    buffer.unlink()
    return data


def _pickled_object() -> bytes:
    buffer = io.BytesIO()
    torch.save({"model": {}, "sha256": "0", "hook": Path("x")}, buffer)
    return buffer.getvalue()


def load_toy2d(path: Path) -> torch.nn.Module:
    """What `genforge sample` does with a checkpoint: read it, build its model, load the weights."""
    trained = load_trained(path)
    _, cfg, _ = task_from_dict(trained.config, str(path))
    return load_into(build_model(cfg), trained)


CHECKPOINT = _checkpoint_bytes(64)
READERS: dict[str, tuple[Callable[[Path], Any], dict[str, Maker]]] = {
    "CIF (read_structures)": (read_structures, {
        **generic_cases(CIF, ".cif", XYZ),
        "unknown element": fixture("materials/bad_unknown_element.cif"),
        "NaN coordinate": fixture("materials/bad_nan_coordinate.cif"),
        "zero-volume cell": fixture("materials/bad_zero_volume.cif"),
        "absurd cell angle": replaced(MATERIALS / "tiny.cif", "_cell_angle_alpha   90.00000000",
                                      "_cell_angle_alpha   179.99000000", "absurd_angle.cif"),
        "negative cell length": replaced(MATERIALS / "tiny.cif", "_cell_length_a   3.90500000",
                                         "_cell_length_a   -3.90500000", "negative_length.cif"),
    }),
    "XYZ (read_structures)": (read_structures, {
        **generic_cases(XYZ, ".xyz", CIF),
        "atom count too small": fixture("materials/bad_count_short.xyz"),
        "atom count too large": fixture("materials/bad_count_long.xyz"),
        "unknown element": fixture("materials/bad_unknown_element.xyz"),
        "NaN coordinate": fixture("materials/bad_nan_coordinate.xyz"),
        "inf coordinate": replaced(MATERIALS / "tiny.xyz", "0.117300", "inf", "inf.xyz"),
        "zero-volume cell": fixture("materials/bad_zero_volume.extxyz"),
    }),
    "SDF (read_structures)": (read_structures, {
        **generic_cases(SDF, ".sdf", XYZ),
        "atom count": fixture("materials/bad_count.sdf"),
        "unknown element": fixture("materials/bad_unknown_element.sdf"),
        "NaN coordinate": fixture("materials/bad_nan_coordinate.sdf"),
    }),
    "crystal CSV (read_crystal_csv, strict)": (lambda path: read_crystal_csv(path, strict=True), {
        **generic_cases(CSV, ".csv", XYZ),
        "malformed rows": fixture("materials/cdvae_malformed.csv"),
    }),
    "recipe YAML (load_task_config)": (load_task_config, {
        **generic_cases(YAML, ".yaml", b"- a list\n- not a mapping\n"),
        "unknown key": replaced(RECIPE, "hidden: 64", "hiden: 64", "typo.yaml"),
        "wrong type": replaced(RECIPE, "hidden: 64", "hidden: wide", "type.yaml"),
        "NaN where a count is expected": replaced(RECIPE, "hidden: 64", "hidden: .nan", "nan.yaml"),
        "unknown task": replaced(RECIPE, "task: toy2d", "task: toy3d", "task.yaml"),
    }),
    "checkpoint (load + build its model)": (load_toy2d, {
        **generic_cases(CHECKPOINT, ".pt", YAML),
        "plain pickle, not a checkpoint": written("pickle.pt", pickle.dumps({"model": [1, 2, 3]})),
        "pickled objects inside": written("objects.pt", _pickled_object()),
        "checkpoint of another model": written("other_model.pt", _checkpoint_bytes(5)),
        "flipped byte (digest mismatch)": written("flipped.pt", CHECKPOINT[:-300] + bytes([CHECKPOINT[-300] ^ 1])
                                                  + CHECKPOINT[-299:]),
    }),
}
EXTXYZ, NPZ, NIFTI, PLY = extxyz_trajectory(), burgers_npz(), nifti_volume(), splat_ply()
READERS.update({
    "trajectory extXYZ (read_extxyz)": (read_extxyz, {
        **generic_cases(EXTXYZ, ".extxyz", CIF),
        "NaN coordinate": written("nan.extxyz", EXTXYZ.decode().replace(EXTXYZ.decode().splitlines()[2].split()[1],
                                                                         "nan", 1).encode()),
        "ragged frames (atom count changes)": written("ragged.extxyz", EXTXYZ + XYZ),
    }),
    "Burgers .npz (load_trajectories)": (load_trajectories, {
        **generic_cases(NPZ, ".npz", YAML),
        "missing key": written("missing.npz", burgers_npz_with(u=np.zeros((2, 81, 120)))),
        "wrong grid": written("grid.npz", burgers_npz_with(u=np.zeros((2, 81, 64)), f=np.zeros((2, 80, 64)))),
        "NaN field": written("nan.npz", burgers_npz_with(u=np.full((1, 81, 120), np.nan), f=np.zeros((1, 80, 120)))),
        "pickled object array": written("objects.npz", burgers_npz_with(u=np.array([{"a": 1}], dtype=object),
                                                                         f=np.zeros((1, 80, 120)))),
    }),
    "volume NIfTI / .npy (read_volume)": (read_volume, {
        **generic_cases(NIFTI, ".nii.gz", XYZ),
        "NaN voxels (NIfTI)": written("nan.nii.gz", nifti_volume(np.full((8, 8, 8), np.nan, dtype=np.float32))),
        "wrong rank (.npy, 2-D)": written("flat.npy", npy_volume(np.zeros((8, 8), dtype=np.float32))),
        "inf voxels (.npy)": written("inf.npy", npy_volume(np.full((4, 4, 4), np.inf, dtype=np.float32))),
    }),
    "3DGS .ply (load_ply)": (load_ply, {
        **generic_cases(PLY, ".ply", XYZ),
        "vertex count larger than the data": written("count.ply",
                                                     PLY.replace(b"element vertex 4", b"element vertex 9")),
        "missing property": written("prop.ply", PLY.replace(b"property float opacity\n", b"")),
    }),
})
SLICES = {f"s{i}.dcm": dicom_slice(i) for i in range(4)}
TRUNCATED = dicom_slice(3)[:-40]


def _transforms(*frames: dict[str, Any], fov: Any = 0.69) -> bytes:
    """A transforms_<split>.json with the given frames (default: one frame at the identity pose)."""
    frames = frames or ({"file_path": "./train/r_0", "transform_matrix": np.eye(4).tolist()},)
    return json.dumps({"camera_angle_x": fov, "frames": list(frames)}).encode()


def _frame(path: str = "./train/r_0", matrix: Any = None) -> dict[str, Any]:
    return {"file_path": path, "transform_matrix": np.eye(4).tolist() if matrix is None else matrix}


READERS.update({
    "DICOM series folder (read_volume)": (read_volume, {
        "empty folder": dicom_series({}),
        "only non-DICOM files": dicom_series({"notes.dcm": b"not dicom " * 50}),
        "truncated pixel data": dicom_series({**SLICES, "s3.dcm": TRUNCATED}),
        "slice without ImagePositionPatient": dicom_series({**SLICES,
                                                            "s2.dcm": dicom_slice(2, drop="ImagePositionPatient")}),
        "slice without PixelSpacing": dicom_series({**SLICES, "s2.dcm": dicom_slice(2, drop="PixelSpacing")}),
        "slices of mixed sizes": dicom_series({**SLICES, "s2.dcm": dicom_slice(2, rows=6)}),
        "missing slice (uneven gaps)": dicom_series({k: v for k, v in SLICES.items() if k != "s2.dcm"}),
        "duplicate slice": dicom_series({**SLICES, "dup.dcm": dicom_slice(1)}),
    }),
    "NeRF transforms.json (read_transforms)": (read_transforms, {
        **generic_cases(_transforms(), ".json", YAML),
        "missing camera_angle_x": written("nofov.json", json.dumps({"frames": [_frame()]}).encode()),
        "field of view out of range": written("fov.json", _transforms(fov=7.0)),
        "no frames": written("noframes.json", json.dumps({"camera_angle_x": 0.69, "frames": []}).encode()),
        "matrix not a rotation": written("shear.json", _transforms(_frame(matrix=[[1, 0.5, 0, 0], [0, 1, 0, 0],
                                                                                 [0, 0, 1, 0], [0, 0, 0, 1]]))),
        "NaN in the matrix": written("nan.json", _transforms(_frame(matrix=[[float("nan")] * 4] * 3 + [[0, 0, 0, 1]]))),
        "file_path escapes the folder (../)": written("escape.json", _transforms(_frame("../../../etc/passwd"))),
        "absolute file_path": written("absolute.json", _transforms(_frame("/etc/passwd"))),
    }),
})
CASES = [(reader, case) for reader, (_, cases) in READERS.items() for case in cases]


def _name_in(message: str, path: Path) -> bool:
    return path.name in message or os.fsencode(path.name).decode("utf-8", "backslashreplace") in message \
        or repr(path.name)[1:-1] in message


@pytest.mark.parametrize(("reader", "case"), CASES, ids=[f"{r}: {c}" for r, c in CASES])
def test_reader_rejects_bad_input_naming_the_file(tmp_path: Path, reader: str, case: str) -> None:
    read, makers = READERS[reader]
    path = makers[case](tmp_path)
    before = set(tmp_path.iterdir())
    with pytest.raises(GenforgeError) as info:
        read(path)
    assert _name_in(str(info.value), path), str(info.value)
    assert "\n" not in str(info.value).strip(), "the error must be one line"
    assert set(tmp_path.iterdir()) == before, "nothing may be written"


CLI_ENTRIES: dict[str, tuple[str, list[str]]] = {
    # entry: (reader whose corpus it takes, argv with {input} and {out})
    "genforge train --config": ("recipe YAML (load_task_config)", ["train", "--config", "{input}"]),
    "genforge sample --ckpt": ("checkpoint (load + build its model)",
                               ["sample", "--ckpt", "{input}", "--num", "4", "--out", "{out}"]),
    "genforge export --ckpt": ("checkpoint (load + build its model)",
                               ["export", "--ckpt", "{input}", "--out", "{out}"]),
    "genforge traj sample --condition": ("trajectory extXYZ (read_extxyz)",
                                         ["traj", "sample", "--condition", "{input}", "--out", "{out}"]),
    "genforge pde control --u0": ("Burgers .npz (load_trajectories)",
                                  ["pde", "control", "--u0", "{input}", "--target", "{input}", "--out", "{out}"]),
    "genforge medical simulate --volume": ("volume NIfTI / .npy (read_volume)",
                                           ["medical", "simulate", "--volume", "{input}", "--out", "{out}"]),
    "genforge medical simulate --volume DIR": ("DICOM series folder (read_volume)",
                                               ["medical", "simulate", "--volume", "{input}", "--out", "{out}"]),
    "genforge splat render --ply": ("3DGS .ply (load_ply)", ["splat", "render", "--ply", "{input}", "--out", "{out}"]),
}
VALID_FOR_ENTRY = {
    ("genforge export --ckpt", "checkpoint of another model"),  # export copies weights; it builds no model
    ("genforge pde control --u0", "missing key"),  # control needs only u (its first frame) and the target frame
}
CLI_CASES = [(entry, case) for entry, (reader, _) in CLI_ENTRIES.items() for case in READERS[reader][1]
             if (entry, case) not in VALID_FOR_ENTRY]


@pytest.mark.parametrize(("entry", "case"), CLI_CASES, ids=[f"{e}: {c}" for e, c in CLI_CASES])
def test_cli_exits_2_with_one_line_and_no_output(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch, entry: str, case: str) -> None:
    reader, template = CLI_ENTRIES[entry]
    path = READERS[reader][1][case](tmp_path)
    out = tmp_path / "out" / "result.pt"
    argv = [arg.replace("{input}", str(path)).replace("{out}", str(out)) for arg in template]
    monkeypatch.setattr(sys, "argv", ["genforge", *argv])
    with pytest.raises(SystemExit) as info:
        main()
    err = capfd.readouterr().err.strip()
    assert info.value.code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("error:"), err
    assert not out.exists() and not out.parent.exists()


def test_report_rejects_malformed_run_files(tmp_path: Path) -> None:
    for name, content in (("metrics.json", b"{oops"), ("metrics.jsonl", b'{"step": 1}\nnot json\n'),
                          ("metrics.json", b"\xff\xfe\x00garbage")):
        run = tmp_path / f"run_{name}_{len(content)}"
        run.mkdir()
        (run / name).write_bytes(content)
        with pytest.raises(GenforgeError, match=re.escape(name)):
            build_report(run)
        assert not (run / "report.html").exists()


def test_readme_counts_match_the_corpus() -> None:
    readme = (Path(__file__).parent / "README.md").read_text()
    for reader, (_, cases) in READERS.items():
        assert f"| {reader} | {len(cases)} |" in readme, reader
    assert f"| CLI entries (cases) | {len(CLI_CASES)} |" in readme
