"""How a 2-D smoke trajectory becomes the diffusion state over (t, y, x) and back (WDNO and the baseline).

Fields of a trajectory (:func:`genforge.datasets.smoke.simulate` with F frames on an n x n box):
density rho ``[B, F+1, n, n]``, band control ``[B, F, 2, n, n]`` and the cumulative fraction of all smoke
that has left through the target exit ``[B, F+1]`` (0 at t = 0, the objective at t = T; WDNO / DiffPhyCon
carry it as a state channel so the objective can be read off a generated trajectory). They are stacked as 4
channels [rho, f_x, f_y, fraction] on a (F+2) x n x n space-time grid (rho and the fraction extended by
repeating their last frame, the control by repeating its last frame twice; the fraction broadcast over space).
Velocity is not part of the state: the control objective needs only the fraction, the initial velocity is 0.

* :class:`SmokeWaveletCodec` (WDNO): one single-level periodized 3-D wavelet transform over (t, y, x) ->
  32 channels (8 subbands per field) of (F/2+1) x n/2 x n/2, plus 4 conditioning channels: the 2-D subbands of
  rho0 broadcast along time. The fraction's subbands with a spatial detail are identically 0 (known entries).
* :class:`SmokePhysicalCodec` (DiffPhyCon-like baseline): the 4 channels on the (F+2) x n x n grid.

Both pad the time axis with zeros to a multiple of ``multiple`` and divide every channel by its std over the
training set. Tasks: ``simulate`` (rho0 and control known) and ``control`` (rho0 known).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from genforge.datasets.smoke import SmokeConfig, control_mask
from genforge.domains.pde.representation import Codec
from genforge.domains.pde.wavelets import dwtn, filter_bank, idwtn

SMOKE_TASKS = ("simulate", "control")


def smoke_fields(data: dict[str, Tensor], cfg: SmokeConfig) -> tuple[Tensor, Tensor, Tensor]:
    """(density, control, cumulative target-exit fraction ``[B, F+1]``) of :func:`~genforge.datasets.smoke.simulate`'s
    output plus its ``control``."""
    target = data["outflow"][..., cfg.target_exit].cumsum(1) / data["injected"].unsqueeze(1)
    fraction = torch.cat([torch.zeros_like(target[:, :1]), target], dim=1)
    return data["density"], data["control"], fraction


def _stack(density: Tensor, control: Tensor, fraction: Tensor) -> Tensor:
    """``[B, 4, F+2, n, n]``: the fields on the extended space-time grid (module docstring)."""
    n = density.shape[-1]
    rho = torch.cat([density, density[:, -1:]], dim=1)
    force = torch.cat([control, control[:, -1:], control[:, -1:]], dim=1).transpose(1, 2)
    frac = torch.cat([fraction, fraction[:, -1:]], dim=1)[:, None, :, None, None].expand(-1, 1, -1, n, n)
    return torch.cat([rho.unsqueeze(1), force, frac], dim=1)


class SmokeCodec(Codec):
    """Shared parts of the smoke codecs: geometry, the band mask, conditioning from rho0."""

    tasks = SMOKE_TASKS

    def __init__(self, smoke: SmokeConfig, multiple: int, scale: Tensor | None):
        self.smoke = smoke
        self.frames, self.n = smoke.frames, smoke.n
        self.band = control_mask(smoke)
        super().__init__(scale)

    def _unstack(self, fields: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Inverse of :func:`_stack` (control zeroed outside the band; fraction = spatial mean)."""
        frames = self.frames
        density = fields[:, 0, :frames + 1]
        control = fields[:, 1:3, :frames].transpose(1, 2) * self.band.to(fields)
        return density, control, fields[:, 3, :frames + 1].mean((-2, -1))

    def condition(self, rho0: Tensor, control: Tensor | None = None) -> Tensor:
        """A scaled state whose known entries (simulate: rho0 and control; control: rho0) hold the inputs.

        Shapes: rho0 ``[B, n, n]``, control ``[B, F, 2, n, n]``.
        """
        batch = rho0.shape[0]
        density = rho0.unsqueeze(1).expand(batch, self.frames + 1, self.n, self.n)
        control = rho0.new_zeros(batch, self.frames, 2, self.n, self.n) if control is None else control.to(rho0)
        return self.encode(density, control, rho0.new_zeros(batch, self.frames + 1))


class SmokeWaveletCodec(SmokeCodec):
    """WDNO state: 3-D wavelet subbands of [rho, f_x, f_y, fraction] plus the 2-D subbands of rho0."""

    kind = "smoke_wavelet"

    def __init__(self, smoke: SmokeConfig, wavelet: str = "bior2.4", multiple: int = 2, scale: Tensor | None = None):
        self.wavelet = wavelet
        self.bank = filter_bank(wavelet)
        self.rows = smoke.frames // 2 + 1
        self.half = math.ceil(smoke.n / 2)
        self.channels = 36
        self.shape = (multiple * math.ceil(self.rows / multiple), self.half, self.half)
        super().__init__(smoke, multiple, scale)

    def raw_encode(self, density: Tensor, control: Tensor, fraction: Tensor) -> Tensor:
        bank = self.bank.to(density.dtype)
        coeffs = dwtn(_stack(density, control, fraction), bank, 3).flatten(1, 2)     # [B, 32, rows, n/2, n/2]
        start = dwtn(density[:, 0], bank, 2).unsqueeze(2).expand(-1, -1, self.rows, -1, -1)
        x = torch.cat([coeffs, start], dim=1)
        return F.pad(x, (0, 0, 0, 0, 0, self.shape[0] - self.rows))

    def raw_decode(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        coeffs = x[:, :32, :self.rows].unflatten(1, (4, 8))
        return self._unstack(idwtn(coeffs, self.bank.to(x.dtype), 3)[..., :self.n, :self.n])

    def valid(self) -> Tensor:
        mask = torch.zeros(1, self.channels, *self.shape, dtype=torch.bool)
        mask[:, :, :self.rows] = True
        spatial_detail = [24 + s for s in range(8) if s % 4]                           # fraction: 'x??' with ?? != aa
        mask[:, spatial_detail] = False
        return mask

    def known(self, task: str) -> Tensor:
        mask = ~self.valid()
        mask[:, 32:] = True
        if task == "simulate":
            mask[:, 8:24] = True
        return mask


class SmokePhysicalCodec(SmokeCodec):
    """[rho, f_x, f_y, fraction] on the (F+2) x n x n grid, time zero-padded to a multiple of ``multiple``."""

    kind = "smoke_physical"

    def __init__(self, smoke: SmokeConfig, multiple: int = 2, scale: Tensor | None = None):
        self.channels = 4
        self.shape = (multiple * math.ceil((smoke.frames + 2) / multiple), smoke.n, smoke.n)
        super().__init__(smoke, multiple, scale)

    def raw_encode(self, density: Tensor, control: Tensor, fraction: Tensor) -> Tensor:
        x = _stack(density, control, fraction)
        return F.pad(x, (0, 0, 0, 0, 0, self.shape[0] - x.shape[2])) * self.valid().to(x)   # extension rows -> 0

    def raw_decode(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self._unstack(x)

    def valid(self) -> Tensor:
        mask = torch.zeros(1, self.channels, *self.shape, dtype=torch.bool)
        mask[:, [0, 3], :self.frames + 1] = True
        mask[:, 1:3, :self.frames] = True
        return mask

    def known(self, task: str) -> Tensor:
        mask = ~self.valid()
        mask[:, 0, 0] = True
        if task == "simulate":
            mask[:, 1:3, :self.frames] = True
        return mask


def make_smoke_codec(kind: str, smoke: SmokeConfig, multiple: int = 2, scale: Tensor | None = None,
                     wavelet: str = "bior2.4") -> SmokeCodec:
    """``smoke_wavelet`` (WDNO) or ``smoke_physical`` (baseline) codec for the box ``smoke``."""
    if kind == "smoke_wavelet":
        return SmokeWaveletCodec(smoke, wavelet, multiple, scale)
    if kind == "smoke_physical":
        return SmokePhysicalCodec(smoke, multiple, scale)
    raise ValueError(f"smoke codec must be 'smoke_wavelet' or 'smoke_physical', got {kind!r}")
