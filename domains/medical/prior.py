"""The 2-D slice prior: a core U-Net on axial slices, its Gaussian path, and loading a shipped checkpoint.

The network works in model space z = 2 x - 1 (x: image in [0, 1]); :class:`SlicePrior` converts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import Tensor, nn

from genforge.core.denoiser import ModelDenoiser
from genforge.core.errors import CheckpointError
from genforge.core.nets.unet import UNet, UNetConfig
from genforge.core.processes.gaussian import VE, GaussianPath, VPLinear

PROCESSES: dict[str, GaussianPath] = {
    "vp": VPLinear(prediction="v"),
    "ve": VE(sigma_min=0.01, sigma_max=20.0, prediction="x0"),
}
"""Paths a prior can be trained on: VP (v-prediction, as DDS/DDIM) or VE (as DiffusionMBIR's score SDE)."""

DEFAULT_CHECKPOINT = Path(__file__).parent / "checkpoints" / "prior_body64.pt"


@dataclass(frozen=True)
class NetConfig:
    """U-Net of the slice prior (see :class:`~genforge.core.nets.unet.UNetConfig`)."""

    base_channels: int = 16
    channel_mult: tuple[int, ...] = (1, 2, 4, 4)
    num_res_blocks: int = 1
    attention_levels: tuple[int, ...] = (3,)

    def build(self) -> UNet:
        """The 2-D, one-channel U-Net."""
        return UNet(UNetConfig(dims=2, in_channels=1, out_channels=1, base_channels=self.base_channels,
                               channel_mult=self.channel_mult, num_res_blocks=self.num_res_blocks,
                               attention_levels=self.attention_levels))


@dataclass
class SlicePrior:
    """A trained slice prior.

    Attributes:
        model: ``model(z_t [B, 1, S, S], t [B], None)``.
        process: its Gaussian path (model space).
        size: slice size S it was trained at.
        source: the checkpoint read (for error messages).
    """

    model: nn.Module
    process: GaussianPath
    size: int
    source: str = "<memory>"

    @property
    def denoiser(self) -> ModelDenoiser:
        """The core denoiser in model space."""
        return ModelDenoiser(self.model, self.process)

    @staticmethod
    def to_model(x: Tensor) -> Tensor:
        """Image [0, 1] -> model space [-1, 1]."""
        return 2.0 * x - 1.0

    @staticmethod
    def to_image(z: Tensor) -> Tensor:
        """Model space -> image."""
        return 0.5 * (z + 1.0)

    def check_size(self, height: int, width: int, source: str) -> None:
        """CheckpointError naming ``source`` when slices are not ``size x size``."""
        if (height, width) != (self.size, self.size):
            raise CheckpointError(f"the prior was trained on {self.size} x {self.size} slices but the measurement "
                                  f"({source}) has {height} x {width} slices", source=self.source, field="size")


def load_prior(path: str | Path = DEFAULT_CHECKPOINT) -> SlicePrior:
    """A :class:`SlicePrior` from a ``medical.prior`` checkpoint (training or shipped); EMA weights preferred."""
    from genforge.core.config import config_from_dict
    from genforge.core.train.inference import load_into, load_trained
    from genforge.domains.medical.tasks import PriorTaskConfig

    trained = load_trained(path)
    if trained.task != "medical.prior":
        raise CheckpointError(f"expected a 'medical.prior' checkpoint, got task {trained.task!r}", source=path)
    fields = {key: value for key, value in trained.config.items() if key != "task"}
    cfg = config_from_dict(fields, PriorTaskConfig, source=str(path))
    model = load_into(cfg.net.build(), trained).eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return SlicePrior(model, PROCESSES[cfg.process], cfg.size, str(path))
