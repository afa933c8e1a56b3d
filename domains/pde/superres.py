r"""Multi-resolution super-resolution (WDNO's second model): coarse space-time trajectory -> the next finer one.

A field u ``[B, K, N]`` (cell-centred samples, :mod:`genforge.datasets.burgers_multires`) is split by one
2-D wavelet level into the approximation band (in field units: for Haar the 2 x 2 block mean, i.e. the
coarse grid) and three detail bands. The model is a diffusion model over the *detail* bands, conditioned on
the approximation band (clean, as an input channel; the known band is never noised): sampling the details
and inverting the transform gives the 2x finer trajectory whose coarse band is exactly the input. The
diffusion state is the *residual* of the details over those of an interpolant of the coarse band (``base``:
bicubic, or ``zero`` for the plain details), so the model learns a correction to interpolation and the
result degrades towards "coarse band + interpolated details" rather than towards noise. The U-Net
is fully convolutional and sees no level index, and every band is in field units with one scale for all
levels, so the same network is trained on pairs from several levels of the training data (``levels``) and
applied repeatedly to grids finer than any seen in training (2x, 4x).

WDNO (``is_super_model``) instead conditions on nearest-upsampled wavelet coefficients of the *subsampled*
coarse data and generates all bands of the finer level; here the coarse grid is the low-pass band itself,
so only the details are unknown and the output is consistent with the input by construction.

Model file (``torch.load(..., weights_only=True)``): ``{"format", "kind": "superres", "wavelet", "base",
"coarse_scale", "detail_scale" [3], "net", "state_dict" (EMA), "config", "steps", "metrics"}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genforge.core import grids
from genforge.core.denoiser import ModelDenoiser
from genforge.core.errors import CheckpointError
from genforge.core.solvers import ddim
from genforge.core.train import TrainConfig
from genforge.domains.pde.model import PROCESS, NetConfig, build_unet, multiple_of, read_record
from genforge.domains.pde.wavelets import dwt2d, filter_bank, idwt2d

SUPERRES_FORMAT = 1
_KEYS = ("format", "kind", "wavelet", "base", "coarse_scale", "detail_scale", "net", "state_dict")
BASES = ("bicubic", "zero")


def analysis(u: Tensor, bank: Tensor) -> tuple[Tensor, Tensor]:
    """(coarse ``[B, 1, K/2, N/2]``, details ``[B, 3, K/2, N/2]``) of fields ``[B, K, N]`` (K, N even), in field
    units (bands divided by the low-pass DC gain squared: Haar's coarse band is the 2 x 2 block mean)."""
    gain = bank[0].sum().square().to(u)
    bands = dwt2d(u, bank.to(u)) / gain
    return bands[:, :1], bands[:, 1:]


def synthesis(coarse: Tensor, details: Tensor, bank: Tensor) -> Tensor:
    """Inverse of :func:`analysis`: fields ``[B, K, N]``."""
    gain = bank[0].sum().square().to(coarse)
    return idwt2d(torch.cat([coarse, details], dim=1) * gain, bank.to(coarse))


def coarsen(u: Tensor, bank: Tensor, times: int = 1) -> Tensor:
    """The approximation band of ``u`` ``[B, K, N]`` after ``times`` levels: ``[B, K / 2^times, N / 2^times]``."""
    for _ in range(times):
        u = analysis(u, bank)[0][:, 0]
    return u


def base_details(coarse: Tensor, bank: Tensor, base: str) -> Tensor:
    """Detail bands ``[B, 3, K, N]`` of the interpolant ``base`` of coarse fields ``[B, 1, K, N]`` (0 for ``zero``)."""
    if base == "zero":
        return coarse.new_zeros(coarse.shape[0], 3, *coarse.shape[-2:])
    if base not in BASES:
        raise ValueError(f"base must be one of {BASES}, got {base!r}")
    return analysis(interpolate(coarse[:, 0], 2, base), bank)[1]


def _pad(x: Tensor, multiple: int, mode: str) -> Tensor:
    rows, cols = x.shape[-2:]
    pad = (0, -cols % multiple, 0, -rows % multiple)
    return F.pad(x, pad, mode=mode) if any(pad) else x


@dataclass
class SuperResModel:
    """Network + wavelet + band scales; :meth:`upsample` doubles a trajectory's resolution in t and x."""

    net: nn.Module
    wavelet: str
    base: str
    coarse_scale: float
    detail_scale: Tensor
    multiple: int
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def bank(self) -> Tensor:
        """The wavelet's filter bank ``[4, L]``."""
        return filter_bank(self.wavelet)

    def network_input(self, coarse: Tensor) -> Tensor:
        """Scaled, padded conditioning channel ``[B, 1, K', N']`` of coarse fields ``[B, 1, K, N]``."""
        return _pad(coarse / self.coarse_scale, self.multiple, "replicate")

    @torch.no_grad()
    def upsample(self, coarse: Tensor, *, steps: int = 25, seed: int = 0) -> Tensor:
        """Fields ``[B, 2K, 2N]`` whose approximation band is ``coarse`` ``[B, K, N]``; DDIM with ``steps`` NFE."""
        cond = self.network_input(coarse.float().unsqueeze(1))
        generator = torch.Generator().manual_seed(seed)
        x_init = PROCESS.prior((cond.shape[0], 3, *cond.shape[-2:]), generator)
        denoiser = ModelDenoiser(lambda x, t, _: self.net(x, t, cond), PROCESS)
        x = ddim(denoiser, x_init, grids.uniform(steps), generator=generator)
        coarse = coarse.float().unsqueeze(1)
        residual = x[..., :coarse.shape[-2], :coarse.shape[-1]] * self.detail_scale.view(1, 3, 1, 1).to(x)
        details = base_details(coarse, self.bank, self.base) + residual
        return synthesis(coarse, details, self.bank)

    def superresolve(self, coarse: Tensor, factor: int, *, steps: int = 25, seed: int = 0) -> Tensor:
        """``factor`` (a power of 2) times finer fields ``[B, factor K, factor N]`` by repeated :meth:`upsample`."""
        u = coarse
        for level in range(factor.bit_length() - 1):
            u = self.upsample(u, steps=steps, seed=seed + level)
        return u


def interpolate(coarse: Tensor, factor: int, mode: str = "bicubic") -> Tensor:
    """The trivial baseline: ``[B, K, N]`` -> ``[B, factor K, factor N]`` by cell-centred interpolation
    (``bicubic``, ``bilinear`` or ``nearest`` = zero Haar details)."""
    kwargs = {} if mode == "nearest" else {"align_corners": False}
    return F.interpolate(coarse.unsqueeze(1), scale_factor=factor, mode=mode, **kwargs)[:, 0]


def consistent_interpolation(coarse: Tensor, factor: int, bank: Tensor, base: str = "bicubic") -> Tensor:
    """Baseline = the residual model's output at zero residual: the coarse band kept exactly, the details of the
    ``base`` interpolant, level by level. Shapes: ``[B, K, N]`` -> ``[B, factor K, factor N]``."""
    u = coarse
    for _ in range(factor.bit_length() - 1):
        c = u.unsqueeze(1)
        u = synthesis(c, base_details(c, bank, base), bank)
    return u


def relative_l2(predicted: Tensor, reference: Tensor) -> float:
    """Mean over trajectories of ``||u_hat - u|| / ||u||`` (fields ``[B, K, N]``)."""
    diff = (predicted - reference).flatten(1).double().norm(dim=1)
    return float((diff / reference.flatten(1).double().norm(dim=1).clamp_min(1e-12)).mean())


def superres_scores(predicted: Tensor, reference: Tensor) -> dict[str, float]:
    """Relative L2 and MSE (lower is better)."""
    return {"rel_l2": relative_l2(predicted, reference),
            "mse": float((predicted.double() - reference.double()).square().mean())}


@dataclass(frozen=True)
class SuperResConfig:
    """Recipe of the super-resolution model (task ``pde.superres``).

    Args:
        wavelet: pywt name (``haar``: the coarse band is the 2 x 2 block mean, no periodic wrap across t = 0 / T).
        base: interpolant whose details the diffusion corrects (``bicubic``) or ``zero`` (plain details).
        num_train: training trajectories (problems of ``burgers.generate(num_train, data_seed)``).
        frames: K of the training grid (a multiple of 40).
        points: N of the training grid.
        solver_points: solver vertices for the training data (``+ 1`` a multiple of 2 ``points``).
        levels: training pairs come from the top ``levels`` levels (coarse ``K/2 x N/2`` -> ``K x N``, ...).
        num_test: held-out problems (seed ``data_seed + 1``).
        eval_factors: finer-than-training factors evaluated (the input is the training grid).
        eval_solver_points: solver vertices of the reference at every evaluated factor (the fine solver).
        data_seed: seed of the problems.
        net: U-Net size.
        sample_steps: DDIM steps (NFE) per level.
        num_eval: held-out trajectories evaluated.
        train: core trainer settings.
    """

    wavelet: str = "haar"
    base: str = "bicubic"
    num_train: int = 1000
    frames: int = 40
    points: int = 60
    solver_points: int = 239
    levels: int = 2
    num_test: int = 32
    eval_factors: tuple[int, ...] = (2, 4)
    eval_solver_points: int = 479
    data_seed: int = 0
    net: NetConfig = field(default_factory=lambda: NetConfig(base_channels=32, channel_mult=(1, 2, 2)))
    sample_steps: int = 25
    num_eval: int = 32
    train: TrainConfig = field(default_factory=TrainConfig)


def fit_scales(u: Tensor, bank: Tensor, levels: int, base: str) -> tuple[float, Tensor]:
    """(std of the coarse band, per-subband std of the detail residuals over ``base``) pooled over the levels."""
    coarse, details = [], []
    for _ in range(levels):
        c, d = analysis(u, bank)
        coarse.append(c.flatten())
        details.append((d - base_details(c, bank, base)).transpose(0, 1).flatten(1))
        u = c[:, 0]
    return float(torch.cat(coarse).std()), torch.cat(details, dim=1).std(dim=1).clamp_min(1e-6).float()


def loss_fn_for(bank: Tensor, base: str, coarse_scale: float, detail_scale: Tensor, levels: int, multiple: int):
    """v-prediction loss on the scaled detail residuals of a random training level per batch (valid entries only)."""
    scale = detail_scale.view(1, 3, 1, 1)

    def loss_fn(model: nn.Module, batch: tuple[Tensor], generator: torch.Generator) -> Tensor:
        level = int(torch.randint(levels, (), generator=generator, device=generator.device))
        u = coarsen(batch[0], bank, level)
        coarse, details = analysis(u, bank)
        x0 = _pad((details - base_details(coarse, bank, base)) / scale.to(details), multiple, "constant")
        cond = _pad(coarse / coarse_scale, multiple, "replicate")
        valid = torch.zeros_like(x0, dtype=torch.bool)
        valid[..., :details.shape[-2], :details.shape[-1]] = True
        t = PROCESS.sample_time(x0.shape[0], generator, device=x0.device)
        noise = PROCESS.sample_noise(x0, generator)
        error = (model(PROCESS.corrupt(x0, t, noise), t, cond) - PROCESS.target(x0, noise, t)).square()
        return (error * valid).sum() / valid.sum()

    return loss_fn


def superres_record(model: SuperResModel, net_cfg: NetConfig, **extra: Any) -> dict[str, Any]:
    """The dict saved by :func:`~genforge.domains.pde.model.save_model`."""
    from genforge.core.config import dump_config

    return {"format": SUPERRES_FORMAT, "kind": "superres", "wavelet": model.wavelet, "base": model.base,
            "coarse_scale": model.coarse_scale, "detail_scale": model.detail_scale.clone(),
            "net": dump_config(net_cfg),
            "state_dict": {k: v.detach().clone() for k, v in model.net.state_dict().items()}, **extra}


def load_superres(path: str | Path) -> SuperResModel:
    """A :class:`SuperResModel` from a file written by :func:`superres_record` + ``save_model``."""
    from genforge.core.config import config_from_dict

    record = read_record(path, _KEYS, "a genforge super-resolution model")
    if record["format"] != SUPERRES_FORMAT or record["kind"] != "superres":
        raise CheckpointError(f"format {record['format']} / kind {record['kind']!r} is not {SUPERRES_FORMAT} / "
                              "'superres'", source=path, field="format")
    net_cfg = config_from_dict(record["net"], NetConfig, source=str(path))
    net = build_unet(net_cfg, 3, 1)
    try:
        net.load_state_dict(record["state_dict"])
    except RuntimeError as error:
        raise CheckpointError(f"weights do not fit the stored architecture: {error}", source=path,
                              field="state_dict") from error
    if record["base"] not in BASES:
        raise CheckpointError(f"base {record['base']!r} is not one of {BASES}", source=path, field="base")
    return SuperResModel(net.eval(), record["wavelet"], record["base"], float(record["coarse_scale"]),
                         record["detail_scale"],
                         multiple_of(net_cfg), record)
