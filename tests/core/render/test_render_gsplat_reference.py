"""Covariances, SH colour and EWA projection against gsplat's own pure-torch reference functions (CPU)."""

from __future__ import annotations

import pytest
import torch

from genforge.core.render import covariances, eval_sh, intrinsics_from_fov, orbit_viewmats, sh_basis
from genforge.core.render.projection import project

torch_impl = pytest.importorskip("gsplat.cuda._torch_impl")


def _scene(n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"means": (torch.rand(n, 3, generator=g, dtype=torch.float64) * 2 - 1) * 1.5,
            "quats": torch.randn(n, 4, generator=g, dtype=torch.float64),
            "scales": torch.exp(torch.randn(n, 3, generator=g, dtype=torch.float64) * 0.5 - 2.5),
            "opacities": torch.rand(n, generator=g, dtype=torch.float64),
            "sh": torch.randn(n, 16, 3, generator=g, dtype=torch.float64) * 0.3}


def test_covariances_match_gsplat() -> None:
    s = _scene(64)
    ref, _ = torch_impl._quat_scale_to_covar_preci(s["quats"], s["scales"], compute_preci=False)
    torch.testing.assert_close(covariances(s["quats"], s["scales"]), ref)


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_spherical_harmonics_match_gsplat(degree: int) -> None:
    g = torch.Generator().manual_seed(degree)
    dirs = torch.randn(200, 3, generator=g, dtype=torch.float64)
    coeffs = torch.randn(200, 16, 3, generator=g, dtype=torch.float64)
    num = (degree + 1) ** 2
    torch.testing.assert_close(sh_basis(degree, dirs), torch_impl._eval_sh_bases_fast(num, dirs / dirs.norm(
        dim=-1, keepdim=True)))
    torch.testing.assert_close(eval_sh(degree, dirs, coeffs), torch_impl._spherical_harmonics(degree, dirs, coeffs))


def test_projection_matches_gsplat() -> None:
    s = _scene(300)
    width, height = 48, 40
    viewmats = orbit_viewmats(3, 4.0, 0.5, dtype=torch.float64)
    Ks = intrinsics_from_fov(0.9, width, height, dtype=torch.float64)[None].repeat(3, 1, 1)
    ours = project(s["means"][None], s["quats"][None], s["scales"][None], s["opacities"][None], s["sh"][None],
                   viewmats[None], Ks[None], width, height, sh_degree=3)
    covars = covariances(s["quats"], s["scales"])
    radii, means2d, depths, conics, _ = torch_impl._fully_fused_projection(s["means"], covars, viewmats, Ks, width,
                                                                          height)
    shown = (radii > 0).all(-1)
    assert shown.sum() > 100 and ours.valid[shown].all()
    torch.testing.assert_close(ours.means2d[shown], means2d[shown])
    torch.testing.assert_close(ours.conics[shown], conics[shown])
    torch.testing.assert_close(ours.depths[shown], depths[shown])
