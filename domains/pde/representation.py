"""How a Burgers trajectory (u ``[B, 81, 120]``, f ``[B, 80, 120]``) becomes the diffusion state and back.

Two codecs share one interface, so the same U-Net / sampler / guidance run on either:

* :class:`PhysicalCodec` (DiffPhyCon-like baseline): channels [u, f] on the (t, x) grid, time padded
  to a multiple of ``multiple`` with zeros (f has one frame less than u).
* :class:`WaveletCodec` (WDNO): the 2-channel trajectory [u, f] (u's time axis extended 81 -> 82 by
  repeating its last frame, f's 80 -> 82 likewise) goes through one single-level 2-D periodized wavelet
  transform over (t, x) -> 8 channels ``[4 subbands of u, 4 of f]`` of 41 x 60, plus 4 conditioning
  channels holding the 1-D transform (approximation, detail) of u0 and of u(T), broadcast along time.
  The coefficient grid is zero-padded to multiples of ``multiple`` (rows and columns).

Every channel is divided by a per-channel scale (std over the training set), stored with the model.
Padding entries are known zeros; :meth:`known` returns which entries replacement may pin for a task.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch
import torch.nn.functional as F
from torch import Tensor

from genforge.domains.pde.wavelets import dwt1d, dwt2d, filter_bank, idwt1d, idwt2d

NUM_T, NUM_X = 81, 120
TASKS = ("simulate", "control")


def _round_up(n: int, multiple: int) -> int:
    return multiple * math.ceil(n / multiple)


class Codec(ABC):
    """Maps (u, f) to a scaled state ``[B, channels, *shape]`` and back (differentiably)."""

    kind: str
    channels: int
    shape: tuple[int, ...]
    tasks: tuple[str, ...] = TASKS

    def __init__(self, scale: Tensor | None = None):
        self.scale = torch.ones(self.channels) if scale is None else scale.to(torch.float32)

    @abstractmethod
    def raw_encode(self, u: Tensor, f: Tensor) -> Tensor:
        """Unscaled state ``[B, channels, *shape]``."""

    @abstractmethod
    def raw_decode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(u ``[B, 81, 120]``, f ``[B, 80, 120]``) from an unscaled state."""

    @abstractmethod
    def known(self, task: str) -> Tensor:
        """Bool ``[1, channels, *shape]``: entries fixed by the task's inputs (incl. zero padding)."""

    @abstractmethod
    def valid(self) -> Tensor:
        """Bool ``[1, channels, *shape]``: entries that are not padding."""

    def _view(self, x: Tensor) -> Tensor:
        return self.scale.to(x).view(1, -1, *([1] * (x.dim() - 2)))

    def encode(self, *fields: Tensor) -> Tensor:
        """Scaled state ``[B, channels, *shape]`` of trajectories (Burgers: u ``[B, 81, 120]``, f ``[B, 80, 120]``)."""
        x = self.raw_encode(*fields)
        return x / self._view(x)

    def decode(self, x: Tensor) -> tuple[Tensor, ...]:
        """The fields (Burgers: u, f) of a scaled state; differentiable."""
        return self.raw_decode(x * self._view(x))

    def fit_scale(self, *fields: Tensor) -> None:
        """Set the per-channel scale to each channel's std over the valid entries of the fields."""
        x = self.raw_encode(*fields)
        valid = self.valid().expand_as(x)
        scale = torch.stack([x[:, c][valid[:, c]].std() if valid[:, c].any() else x.new_tensor(1.0)
                             for c in range(self.channels)])
        self.scale = scale.clamp_min(1e-6).to(torch.float32)

    def condition(self, u0: Tensor, f: Tensor | None = None, u_final: Tensor | None = None) -> Tensor:
        """A scaled state whose known entries (for simulate: u0 and f; control: u0 and u(T)) hold the inputs.

        Shapes: u0, u_final ``[B, 120]``; f ``[B, 80, 120]``. Other entries are meaningless.
        """
        batch = u0.shape[0]
        u = u0.unsqueeze(1).expand(batch, NUM_T, NUM_X).clone()
        if u_final is not None:
            u[:, -1] = u_final
        f = torch.zeros(batch, NUM_T - 1, NUM_X, dtype=u0.dtype) if f is None else f
        return self.encode(u, f)


class PhysicalCodec(Codec):
    """[u, f] on the (t, x) grid, zero-padded to multiples of ``multiple``."""

    kind = "physical"

    def __init__(self, multiple: int = 4, scale: Tensor | None = None):
        self.channels = 2
        self.shape = (_round_up(NUM_T, multiple), _round_up(NUM_X, multiple))
        super().__init__(scale)

    def raw_encode(self, u: Tensor, f: Tensor) -> Tensor:
        rows, cols = self.shape
        return torch.stack([F.pad(u, (0, cols - NUM_X, 0, rows - NUM_T)),
                            F.pad(f, (0, cols - NUM_X, 0, rows - NUM_T + 1))], dim=1)

    def raw_decode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return x[:, 0, :NUM_T, :NUM_X], x[:, 1, :NUM_T - 1, :NUM_X]

    def valid(self) -> Tensor:
        mask = torch.zeros(1, 2, *self.shape, dtype=torch.bool)
        mask[:, 0, :NUM_T, :NUM_X] = True
        mask[:, 1, :NUM_T - 1, :NUM_X] = True
        return mask

    def known(self, task: str) -> Tensor:
        mask = ~self.valid()
        mask[:, 0, 0, :NUM_X] = True
        if task == "simulate":
            mask[:, 1, :NUM_T - 1, :NUM_X] = True
        else:
            mask[:, 0, NUM_T - 1, :NUM_X] = True
        return mask


class WaveletCodec(Codec):
    """WDNO state: 2-D wavelet subbands of [u, f] plus the 1-D subbands of u0 and u(T) (module docstring)."""

    kind = "wavelet"

    def __init__(self, wavelet: str = "bior2.4", multiple: int = 4, scale: Tensor | None = None):
        self.wavelet = wavelet
        self.bank = filter_bank(wavelet)
        self.rows = (NUM_T + 1) // 2
        self.channels = 12
        self.cols = NUM_X // 2
        self.shape = (_round_up(self.rows, multiple), _round_up(self.cols, multiple))
        super().__init__(scale)

    def raw_encode(self, u: Tensor, f: Tensor) -> Tensor:
        bank = self.bank.to(u.dtype)
        f_ext = torch.cat([f, f[:, -1:], f[:, -1:]], dim=1)                  # [B, 82, 120]
        u_ext = torch.cat([u, u[:, -1:]], dim=1)
        coeffs = dwt2d(torch.stack([u_ext, f_ext], dim=1), bank).flatten(1, 2)  # [B, 8, 41, 60]
        ends = dwt1d(torch.stack([u[:, 0], u[:, -1]], dim=1), bank).flatten(1, 2)  # [B, 4, 60]
        ends = ends.unsqueeze(2).expand(-1, -1, self.rows, -1)
        x = torch.cat([coeffs, ends], dim=1)
        return F.pad(x, (0, self.shape[1] - self.cols, 0, self.shape[0] - self.rows))

    def raw_decode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        coeffs = x[:, :8, :self.rows, :self.cols].reshape(x.shape[0], 2, 4, self.rows, self.cols)
        fields = idwt2d(coeffs, self.bank.to(x.dtype))                           # [B, 2, 82, 120]
        return fields[:, 0, :NUM_T], fields[:, 1, :NUM_T - 1]

    def decode_ends(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(u0, u(T)) ``[B, 120]`` from the conditioning channels (mean over their broadcast rows)."""
        ends = (x * self._view(x))[:, 8:, :self.rows, :self.cols].mean(2).reshape(x.shape[0], 2, 2, -1)
        out = idwt1d(ends, self.bank.to(x.dtype))
        return out[:, 0], out[:, 1]

    def valid(self) -> Tensor:
        mask = torch.zeros(1, self.channels, *self.shape, dtype=torch.bool)
        mask[:, :, :self.rows, :self.cols] = True
        return mask

    def known(self, task: str) -> Tensor:
        mask = ~self.valid()
        mask[:, 8:10] = True
        if task == "simulate":
            mask[:, 4:8] = True
        else:
            mask[:, 10:12] = True
        return mask


def make_codec(kind: str, multiple: int = 4, scale: Tensor | None = None, wavelet: str = "bior2.4") -> Codec:
    """``wavelet`` (WDNO) or ``physical`` (baseline) codec."""
    if kind == "wavelet":
        return WaveletCodec(wavelet, multiple, scale)
    if kind == "physical":
        return PhysicalCodec(multiple, scale)
    raise ValueError(f"codec must be 'wavelet' or 'physical', got {kind!r}")
