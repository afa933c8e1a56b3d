"""``genforge ts generate``: happy path, batch mode, and one clear error (nothing written) for bad input."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from genforge.cli import app, main
from genforge.core.errors import CheckpointError, DataError
from genforge.domains.materials.io import read_structures
from genforge.domains.transition_states.checkpoints import TsModelConfig, load_packaged, save_packaged

WATER = [("O", 0.0, 0.0, 0.1173), ("H", 0.0, 0.7572, -0.4692), ("H", 0.0, -0.7572, -0.4692)]
HYDROXIDE_H = [("O", 0.0, 0.0, 0.0), ("H", 0.0, 0.97, 0.0), ("H", 0.0, -2.1, 0.3)]


def _xyz(path: Path, frames: list[list[tuple[str, float, float, float]]]) -> Path:
    lines = []
    for atoms in frames:
        lines += [str(len(atoms)), "frame"] + [f"{s} {x} {y} {z}" for s, x, y, z in atoms]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "reactot_tiny.pt"
    model_cfg = TsModelConfig(hidden=8, num_layers=1, num_rbf=4, time_dim=4)
    torch.manual_seed(0)
    save_packaged(path, model_cfg.build(), "reactot", model_cfg, solver="euler", steps=2, elements=[1, 6, 7, 8],
                  card={"note": "untrained, for tests"})
    return path


def _generate(checkpoint: Path, reactant: Path, product: Path, out: Path, *extra: str):
    return CliRunner().invoke(app, ["ts", "generate", "--reactant", str(reactant), "--product", str(product),
                                    "--out", str(out), "--checkpoint", str(checkpoint), *extra])


def test_generate_writes_one_ts_with_the_input_atoms(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "ts.xyz"
    result = _generate(checkpoint, _xyz(tmp_path / "r.xyz", [WATER]), _xyz(tmp_path / "p.xyz", [HYDROXIDE_H]), out)
    assert result.exit_code == 0, result.output
    (ts,) = read_structures(out)
    assert ts.species.tolist() == [8, 1, 1] and torch.isfinite(ts.pos).all()


def test_batch_mode_skips_bad_pairs_and_reports_them(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "ts.xyz"
    reactant = _xyz(tmp_path / "r.xyz", [WATER, WATER, WATER])
    product = _xyz(tmp_path / "p.xyz", [HYDROXIDE_H, HYDROXIDE_H[:2], HYDROXIDE_H])
    result = _generate(checkpoint, reactant, product, out)
    assert result.exit_code == 0, result.output
    assert "frame 2" in result.output and "3 atoms but product has 2" in result.output
    assert len(read_structures(out)) == 2


@pytest.mark.parametrize(("product", "message"), [
    (HYDROXIDE_H[:2], "reactant has 3 atoms but product has 2"),
    ([HYDROXIDE_H[1], HYDROXIDE_H[0], HYDROXIDE_H[2]], "atom 1: O in reactant, H in product"),
    ([("S", 0.0, 0.0, 0.0), *HYDROXIDE_H[1:]], "atom 1: O in reactant, S in product"),
])
def test_mismatched_pair_is_one_error_and_nothing_is_written(checkpoint: Path, tmp_path: Path,
                                                             product: list, message: str) -> None:
    out = tmp_path / "ts.xyz"
    result = _generate(checkpoint, _xyz(tmp_path / "r.xyz", [WATER]), _xyz(tmp_path / "p.xyz", [product]), out)
    assert isinstance(result.exception, DataError) and message in str(result.exception)
    assert not out.exists()


def test_element_unknown_to_the_model_is_an_error(checkpoint: Path, tmp_path: Path) -> None:
    sulfur = [("S", 0.0, 0.0, 0.0), ("H", 1.3, 0.0, 0.0), ("H", -1.3, 0.2, 0.0)]
    out = tmp_path / "ts.xyz"
    result = _generate(checkpoint, _xyz(tmp_path / "r.xyz", [sulfur]), _xyz(tmp_path / "p.xyz", [sulfur]), out)
    assert isinstance(result.exception, DataError) and "S not supported by the model" in str(result.exception)
    assert not out.exists()


@pytest.mark.parametrize(("bad_atom", "message"), [
    (("Xx", 0.0, 0.0, 0.0), "unknown element"),
    (("O", float("nan"), 0.0, 0.0), "non-finite"),
])
def test_malformed_reactant_names_the_file(checkpoint: Path, tmp_path: Path, bad_atom: tuple, message: str) -> None:
    out = tmp_path / "ts.xyz"
    reactant = _xyz(tmp_path / "r.xyz", [[bad_atom, *WATER[1:]]])
    result = _generate(checkpoint, reactant, _xyz(tmp_path / "p.xyz", [HYDROXIDE_H]), out)
    assert isinstance(result.exception, DataError)
    assert message in str(result.exception) and "r.xyz" in str(result.exception)
    assert not out.exists()


def test_corrupted_checkpoint_is_a_checkpoint_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="broken.pt"):
        load_packaged(path)


def test_cli_prints_one_line_and_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    reactant = _xyz(tmp_path / "r.xyz", [WATER])
    monkeypatch.setattr(sys, "argv", ["genforge", "ts", "generate", "-r", str(reactant), "-p", str(reactant),
                                      "-o", str(tmp_path / "ts.xyz"), "--checkpoint", str(tmp_path / "missing.pt")])
    with pytest.raises(SystemExit) as exit_info:
        main()
    stderr = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert "missing.pt" in stderr and "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "ts.xyz").exists()
