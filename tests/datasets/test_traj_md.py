"""xTB Langevin MD data: shapes, reproducibility by seed, fixed centre of mass, physical bond lengths, cache."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("tblite")
pytest.importorskip("rdkit")

from genforge.core.errors import DataError
from genforge.datasets.md_trajectories import MDConfig, load_md, simulate_md

CFG = MDConfig(molecule="ethanol", steps=40, sample_every=10)


def test_short_ethanol_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENFORGE_CACHE", str(tmp_path))
    data = load_md(2, seed=3, cfg=CFG, show_progress=False)
    assert data.pos.shape == (2, 4, 9, 3) and data.species.tolist() == [6, 6, 8, 1, 1, 1, 1, 1, 1]
    assert torch.isfinite(data.energy).all() and (data.energy < 0).all()  # eV, bound molecule
    com = data.pos.mean(dim=2)  # equal masses per element: check the mass-weighted CoM instead
    masses = torch.tensor([12.011, 12.011, 15.999] + [1.008] * 6)
    mass_com = (data.pos * masses[:, None]).sum(2) / masses.sum()
    assert (mass_com - mass_com[:, :1]).abs().max() < 1e-4 and com.shape == (2, 4, 3)
    cc = (data.pos[:, :, 0] - data.pos[:, :, 1]).norm(dim=-1)
    assert ((cc > 1.3) & (cc < 1.8)).all()  # C-C bond stays a bond
    again = load_md(2, seed=3, cfg=CFG, show_progress=False)  # from the cache
    assert torch.equal(again.pos, data.pos)
    assert torch.allclose(simulate_md(1, seed=3, cfg=CFG, show_progress=False).pos[0], data.pos[0], atol=1e-5)


def test_bad_molecule_is_a_data_error() -> None:
    with pytest.raises(DataError, match="SMILES"):
        simulate_md(1, 0, MDConfig(molecule="C1CC", steps=10), show_progress=False)


def test_nve_conserves_energy_and_langevin_does_not() -> None:
    """Velocity Verlet at 0.5 fs keeps kinetic + potential within 5 meV (of ~1 eV of thermal energy) over 100 fs
    after a Langevin equilibration; the 500 K Langevin thermostat itself exchanges far more than that."""
    nve = MDConfig(molecule="ethanol", steps=200, sample_every=10, ensemble="nve", equilibration_steps=40)
    data = simulate_md(1, seed=5, cfg=nve, show_progress=False)
    total = data.energy + data.kinetic
    assert data.kinetic.mean() > 0.2  # thermalised: 9 atoms at 500 K carry ~0.6 eV of kinetic energy
    assert (total - total[:, :1]).abs().max() < 5e-3
    langevin = simulate_md(1, seed=5, cfg=MDConfig(molecule="ethanol", steps=200, sample_every=10,
                                                    equilibration_steps=40), show_progress=False)
    langevin_total = langevin.energy + langevin.kinetic
    assert (langevin_total - langevin_total[:, :1]).abs().max() > 2e-2


def test_unknown_ensemble_is_a_data_error() -> None:
    with pytest.raises(DataError, match="nve"):
        simulate_md(1, 0, MDConfig(ensemble="npt", steps=10), show_progress=False)  # type: ignore[arg-type]
