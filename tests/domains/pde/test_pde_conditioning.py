"""Clean conditioning (WDNO's training): the net sees the known entries clean, the loss ignores them; best-of-K."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from genforge.datasets.burgers import sample_forcing, sample_u0
from genforge.domains.pde.control import ControlObjective, evaluate_controls
from genforge.domains.pde.model import NetConfig, PDEModel, build_unet
from genforge.domains.pde.representation import WaveletCodec
from genforge.domains.pde.sampling import conditioned_denoiser, control
from genforge.domains.pde.tasks import _loss_fn


def _model() -> PDEModel:
    torch.manual_seed(0)
    codec = WaveletCodec()
    net = build_unet(NetConfig(base_channels=8, channel_mult=(1, 2)), codec.channels, codec.channels)
    for parameter in net.parameters():  # the zero-initialised output convs would make the net trivial
        parameter.data += 0.05 * torch.randn_like(parameter)
    return PDEModel(net.eval(), codec, {"conditioning": "clean"})


def _problem(batch: int, seed: int) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return sample_u0(batch, generator).float(), sample_forcing(batch, generator).float()


@pytest.mark.parametrize("task", ["simulate", "control"])
def test_known_entries_are_clean_whatever_x_t_holds_there(task: str) -> None:
    model = _model()
    codec = model.codec
    u0, f = _problem(2, 0)
    y = codec.condition(u0, f) if task == "simulate" else codec.condition(u0, u_final=-u0)
    mask = codec.known(task)
    denoiser = conditioned_denoiser(model, task, y)
    generator = torch.Generator().manual_seed(1)
    x_t = torch.randn(y.shape, generator=generator)
    t = torch.full((2,), 0.6)
    with torch.no_grad():
        x0, _ = denoiser.x0_eps(x_t, t)
        x0_other, _ = denoiser.x0_eps(torch.where(mask, 10.0 * torch.randn(y.shape, generator=generator), x_t), t)
    assert torch.equal(torch.where(mask, x0, 0.0), torch.where(mask, y, 0.0))
    torch.testing.assert_close(x0, x0_other)
    assert (x0 - x_t)[~mask.expand_as(x0)].abs().max() > 0


def test_clean_loss_ignores_the_prediction_at_known_entries() -> None:
    codec = WaveletCodec()
    u = sample_u0(4, torch.Generator().manual_seed(2)).float().unsqueeze(1).expand(4, 81, 120).contiguous()
    f = sample_forcing(4, torch.Generator().manual_seed(3)).float()
    codec.fit_scale(u, f)
    net = build_unet(NetConfig(base_channels=8, channel_mult=(1, 2)), codec.channels, codec.channels)
    seen: list[Tensor] = []

    class Spoiled(nn.Module):
        """The net's output with garbage wherever its mask input says 'known'."""

        def forward(self, x_t: Tensor, t: Tensor, cond: Tensor) -> Tensor:
            seen.append(cond)
            return net(x_t, t, cond) + 1e3 * cond

    loss = _loss_fn(codec, "clean")
    plain = loss(net, (u, f), torch.Generator().manual_seed(4))
    spoiled = loss(Spoiled(), (u, f), torch.Generator().manual_seed(4))
    torch.testing.assert_close(plain, spoiled)
    assert seen[0].sum() > 0


def test_best_of_k_is_never_worse_than_the_first_draw_by_the_coarse_solver() -> None:
    model = _model()
    u0, _ = _problem(2, 5)
    target = 0.5 * u0.flip(-1)
    objective = ControlObjective(target.double(), 2e-5)
    single, _ = control(model, u0, target, objective, scale=1e3, steps=2, seed=0)
    best, _ = control(model, u0, target, objective, scale=1e3, steps=2, seed=0, samples=3)
    j_single = evaluate_controls(u0, single, objective, 1)["J"]
    j_best = evaluate_controls(u0, best, objective, 1)["J"]
    assert (j_best <= j_single + 1e-6).all()
