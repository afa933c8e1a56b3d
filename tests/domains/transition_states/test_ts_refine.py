"""Sella saddle search on GFN2-xTB from a perturbed TS of a real 4-atom reaction (the fixture's rxn 5207)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genforge.core.geometry.kabsch import aligned_rmsd
from genforge.datasets.rdb7 import ReactionBatch, load_rdb7
from genforge.domains.transition_states.oracle import XtbOracle
from genforge.domains.transition_states.refine import reactive_pairs, refine_saddle
from genforge.domains.transition_states.saddle_choice import SaddleRule, search_saddle

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "rdb7"


@pytest.fixture(scope="module")
def cyanogen(tmp_path_factory: pytest.TempPathFactory) -> ReactionBatch:
    """N#C-C#N -> C#N+-C#N isomerisation (4 atoms) with its DFT reactant, TS and product."""
    return load_rdb7(FIXTURE, cache_dir=tmp_path_factory.mktemp("cache")).reactions[4]


@pytest.mark.parametrize("relax", [False, True])
def test_saddle_search_from_a_perturbed_ts_finds_the_reactions_first_order_saddle(
        cyanogen: ReactionBatch, relax: bool) -> None:
    generator = torch.Generator().manual_seed(0)
    guess = cyanogen.pos_ts.double() + 0.1 * torch.randn(4, 3, generator=generator, dtype=torch.float64)
    pairs = reactive_pairs(cyanogen.species, cyanogen.pos_reactant, cyanogen.pos_product)
    assert pairs.shape[0] > 0  # the migrating atom's bond changes
    result = refine_saddle(cyanogen.species, guess, XtbOracle(), fixed_pairs=pairs if relax else None)
    assert result.first_order_saddle and result.mode is not None and result.mode.shape == (4, 3)
    assert float(aligned_rmsd(result.positions, cyanogen.pos_ts.double())) < 0.1
    overlap = SaddleRule().overlap(result, cyanogen.pos_reactant, cyanogen.pos_product)
    assert overlap > 0.8  # its imaginary mode is the isomerisation
    search = search_saddle([guess], lambda _, g: result, cyanogen.pos_reactant, cyanogen.pos_product)
    assert search.chosen is result and search.guess_index == 0


def test_cli_refine_writes_the_saddle_with_its_energy(tmp_path: Path) -> None:
    """The shipped model + refinement pipeline on the fixture's 6-atom reaction lands on its DFT TS's saddle."""
    from typer.testing import CliRunner

    from genforge.cli import app
    from genforge.domains.materials.io import read_structures

    reaction = load_rdb7(FIXTURE, cache_dir=tmp_path / "cache").reactions[2]
    symbols = {1: "H", 6: "C", 7: "N", 8: "O"}
    paths = []
    for name, positions in (("r", reaction.pos_reactant), ("p", reaction.pos_product)):
        lines = [str(len(positions)), name] + [f"{symbols[int(z)]} {x:.8f} {y:.8f} {w:.8f}"
                                               for z, (x, y, w) in zip(reaction.species, positions.tolist(),
                                                                       strict=True)]
        paths.append(tmp_path / f"{name}.xyz")
        paths[-1].write_text("\n".join(lines) + "\n")
    out = tmp_path / "ts.xyz"
    result = CliRunner().invoke(app, ["ts", "generate", "-r", str(paths[0]), "-p", str(paths[1]), "-o", str(out),
                                      "--refine"])
    assert result.exit_code == 0, result.output
    assert "first-order saddle from the" in result.output
    (ts,) = read_structures(out)
    assert float(aligned_rmsd(ts.pos.double(), reaction.pos_ts.double())) < 0.1
    assert "energy=" in out.read_text()
