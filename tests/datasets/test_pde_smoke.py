"""2-D smoke box: exact projection, mass conservation / balance, band-only control, determinism by seed."""

from __future__ import annotations

from dataclasses import replace

import torch

from genforge.datasets import smoke

SMALL = smoke.SmokeConfig(n=16, frames=6, substeps=2, source=(7, 9, 1, 2), exits=(("top", 6, 10), ("left", 10, 14)),
                          band=4)


def _random_faces(cfg: smoke.SmokeConfig, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    shape_u, shape_v = (3, cfg.n, cfg.n + 1), (3, cfg.n + 1, cfg.n)
    return (torch.randn(shape_u, generator=generator, dtype=torch.float64),
            torch.randn(shape_v, generator=generator, dtype=torch.float64))


def test_projection_is_divergence_free_and_idempotent() -> None:
    for cfg in (SMALL, replace(SMALL, exits=())):
        u, v = _random_faces(cfg, 0)
        assert smoke.divergence(u, v, cfg.dx).abs().max() > 10.0
        pu, pv = smoke.project(u, v, cfg)
        assert smoke.divergence(pu, pv, cfg.dx).abs().max() < 1e-9
        qu, qv = smoke.project(pu, pv, cfg)
        torch.testing.assert_close((qu, qv), (pu, pv), atol=1e-10, rtol=0)
        u_open, v_open, _, _ = smoke.face_masks(cfg)
        assert pu[:, ~u_open].abs().max() == 0 and pv[:, ~v_open].abs().max() == 0   # walls stay closed


def test_mass_is_conserved_without_exits_or_source() -> None:
    cfg = replace(SMALL, exits=(), source_rate=0.0)
    generator = torch.Generator().manual_seed(1)
    rho0 = smoke.sample_initial(3, generator, cfg)
    out = smoke.simulate(rho0, smoke.sample_controls(3, generator, cfg, amplitude=3.0), cfg)
    mass = out["mass"]
    assert (out["density"][:, -1] - rho0).abs().max() > 1e-2                  # the smoke did move
    torch.testing.assert_close(mass, mass[:, :1].expand_as(mass), rtol=1e-12, atol=0)
    assert out["density"].min() >= 0


def test_exits_and_source_balance_and_fraction() -> None:
    data = smoke.generate(4, seed=2, cfg=SMALL)
    left = data["mass"][:, -1] + data["outflow"].sum((1, 2))
    torch.testing.assert_close(left, data["injected"], rtol=1e-5, atol=0)
    assert (data["outflow"] >= -1e-7).all() and data["outflow"].sum() > 0
    fraction = data["outflow"][..., SMALL.target_exit].sum(1) / data["injected"]
    torch.testing.assert_close(data["target_fraction"], fraction)
    assert ((data["target_fraction"] >= 0) & (data["target_fraction"] <= 1)).all()


def test_control_acts_only_in_the_band() -> None:
    generator = torch.Generator().manual_seed(3)
    rho0 = smoke.sample_initial(2, generator, SMALL)
    inside = torch.zeros(2, SMALL.frames, 2, SMALL.n, SMALL.n, dtype=torch.float64)
    inside[..., 6:10, 6:10] = 5.0                                                # central region: ignored
    free = smoke.simulate(rho0, None, SMALL)
    torch.testing.assert_close(smoke.simulate(rho0, inside, SMALL)["density"], free["density"])
    band = torch.zeros_like(inside)
    band[:, :, 0, :, :3] = 5.0                                                   # push right along the left band
    pushed = smoke.simulate(rho0, band, SMALL)
    assert (pushed["density"][:, -1] - free["density"][:, -1]).abs().max() > 1e-3


def test_generation_is_deterministic_by_seed() -> None:
    a, b, c = (smoke.generate(2, seed=s, cfg=SMALL) for s in (5, 5, 6))
    assert all(torch.equal(a[key], b[key]) for key in a)
    assert not torch.equal(a["density"], c["density"]) and not torch.equal(a["control"], c["control"])
