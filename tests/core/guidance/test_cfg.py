"""Classifier-free guidance: scale 0 / 1 limits, the affine rule in eps and x0, one batched model call."""

from __future__ import annotations

import pytest
import torch
from _guidance_toys import CountingEpsModel, ExactGaussian, TinyMLP, correlated_cov

from genforge.core.denoiser import ModelDenoiser
from genforge.core.guidance import cfg
from genforge.core.processes.gaussian import VPCosine

PROCESS = VPCosine()
DIM, BATCH = 3, 6


def _setup() -> tuple[CountingEpsModel, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    model = CountingEpsModel(PROCESS, correlated_cov(DIM, gen))
    cond = torch.randn(BATCH, DIM, generator=gen, dtype=torch.float64)
    null = torch.zeros(BATCH, DIM, dtype=torch.float64)
    x_t = torch.randn(BATCH, DIM, generator=gen, dtype=torch.float64)
    t = torch.linspace(0.1, 0.9, BATCH, dtype=torch.float64)
    return model, cond, null, x_t, t


@pytest.mark.parametrize(("scale", "branch"), [(1.0, "cond"), (0.0, "uncond")])
def test_scale_one_is_conditional_and_zero_is_unconditional(scale: float, branch: str) -> None:
    model, cond, null, x_t, t = _setup()
    den = ModelDenoiser(model, PROCESS, cond=cond)
    expected = ModelDenoiser(model, PROCESS, cond=cond if branch == "cond" else null).x0_eps(x_t, t)
    got = cfg(den, scale, null_cond=null).x0_eps(x_t, t)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-12, atol=1e-12)


def test_general_scale_is_affine_in_eps_and_consistent_in_x0() -> None:
    model, cond, null, x_t, t = _setup()
    scale = 3.5
    x0_c, eps_c = ModelDenoiser(model, PROCESS, cond=cond).x0_eps(x_t, t)
    x0_u, eps_u = ModelDenoiser(model, PROCESS, cond=null).x0_eps(x_t, t)
    x0, eps = cfg(ModelDenoiser(model, PROCESS, cond=cond), scale, null_cond=null).x0_eps(x_t, t)
    torch.testing.assert_close(eps, eps_u + scale * (eps_c - eps_u), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(x0, x0_u + scale * (x0_c - x0_u), rtol=1e-10, atol=1e-10)
    alpha, sigma = PROCESS.alpha(t)[:, None], PROCESS.sigma(t)[:, None]
    torch.testing.assert_close(x0, (x_t - sigma * eps) / alpha, rtol=1e-10, atol=1e-10)
    assert (eps - eps_c).abs().max() > 1e-2  # the guidance does something at this scale


def test_tensor_conditions_share_one_model_call_and_match_two_calls() -> None:
    model, cond, null, x_t, t = _setup()
    batched = cfg(ModelDenoiser(model, PROCESS, cond=cond), 2.0, null_cond=null)
    model.calls = 0
    x0_b, eps_b = batched.x0_eps(x_t, t)
    assert model.calls == 1
    separate_model = CountingEpsModel(PROCESS, model.cov)  # another object: no batching possible
    separate = cfg(ModelDenoiser(model, PROCESS, cond=cond), 2.0,
                   uncond=ModelDenoiser(separate_model, PROCESS, cond=null))
    model.calls = 0
    x0_s, eps_s = separate.x0_eps(x_t, t)
    assert model.calls == 1 and separate_model.calls == 1
    torch.testing.assert_close(x0_b, x0_s, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(eps_b, eps_s, rtol=1e-12, atol=1e-12)


def test_any_two_denoisers_and_x0_predicting_models() -> None:
    gen = torch.Generator().manual_seed(1)
    cond_den = ModelDenoiser(TinyMLP(DIM, 0, gen), PROCESS, prediction="x0")
    uncond_den = ExactGaussian(PROCESS, torch.zeros(DIM, dtype=torch.float64), correlated_cov(DIM, gen))
    x_t = torch.randn(BATCH, DIM, generator=gen, dtype=torch.float64)
    t = torch.full((BATCH,), 0.5, dtype=torch.float64)
    x0, eps = cfg(cond_den, 1.7, uncond=uncond_den).x0_eps(x_t, t)
    (x0_c, eps_c), (x0_u, eps_u) = cond_den.x0_eps(x_t, t), uncond_den.x0_eps(x_t, t)
    torch.testing.assert_close(x0, x0_u + 1.7 * (x0_c - x0_u), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(eps, eps_u + 1.7 * (eps_c - eps_u), rtol=1e-12, atol=1e-12)


def test_interval_guides_only_inside_and_is_conditional_outside() -> None:
    model, cond, null, x_t, t = _setup()
    den = ModelDenoiser(model, PROCESS, cond=cond)
    x0, _ = cfg(den, 3.0, null_cond=null, interval=(0.3, 0.7)).x0_eps(x_t, t)
    x0_guided, _ = cfg(den, 3.0, null_cond=null).x0_eps(x_t, t)
    x0_cond, _ = den.x0_eps(x_t, t)
    inside = (t >= 0.3) & (t <= 0.7)
    assert 0 < int(inside.sum()) < BATCH
    torch.testing.assert_close(x0[inside], x0_guided[inside], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(x0[~inside], x0_cond[~inside], rtol=1e-12, atol=1e-12)


def test_needs_an_unconditional_branch() -> None:
    den = ExactGaussian(PROCESS, torch.zeros(DIM), torch.eye(DIM))
    with pytest.raises(TypeError):
        cfg(den, 2.0)
    with pytest.raises(ValueError):
        cfg(den, 2.0, null_cond=torch.zeros(1), uncond=den)
