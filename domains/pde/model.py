"""The PDE diffusion model: a core U-Net over a codec's state, bound to the cosine VP path, and its file format.

A shipped / saved model file is one dict readable with ``torch.load(..., weights_only=True)``:
``{"format", "task", "config" (the resolved recipe), "codec", "wavelet", "multiple", "scale" [C],
"conditioning", "state_dict" (EMA weights), "metrics"}``.

Conditioning (``conditioning`` in the file; absent = ``replace``):

* ``clean`` (WDNO's training, ``set_condition`` in its ``p_losses``): the known entries of x_t (u0 and f for
  simulation; u0 and u(T) for control) hold the *clean* scaled values at every noise level, the known-entry
  mask is passed as extra input channels, and the loss is taken on the unknown entries only. One network
  serves both tasks (the mask says which).
* ``replace``: an unconditional joint model, conditioned at sampling time by replacement (noised known values).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from genforge.core.atomic import atomic_write
from genforge.core.denoiser import ModelDenoiser
from genforge.core.errors import CheckpointError
from genforge.core.nets.unet import UNet, UNetConfig
from genforge.core.processes.gaussian import VPCosine
from genforge.domains.pde.representation import Codec, make_codec

MODEL_FORMAT = 1
CONDITIONINGS = ("clean", "replace")
_KEYS = ("format", "codec", "wavelet", "multiple", "scale", "state_dict", "net")


@dataclass(frozen=True)
class NetConfig:
    """U-Net size (the same for WDNO and the physical-space baseline; only in/out channels differ).

    Args:
        base_channels: channels at full resolution.
        channel_mult: per-level multipliers (levels - 1 downsamplings; the state is padded to match).
        num_res_blocks: ResBlocks per level.
        attention_levels: levels with self-attention.
        dropout: ResBlock dropout.
    """

    base_channels: int = 32
    channel_mult: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 1
    attention_levels: tuple[int, ...] = ()
    dropout: float = 0.0


def build_unet(net: NetConfig, channels: int, cond_channels: int = 0, dims: int = 2) -> UNet:
    """A ``dims``-D U-Net mapping ``[B, channels, T', X']`` (2-D; 3-D: ``[B, channels, T', Y', X']``; plus
    ``cond_channels`` input channels) to ``[B, channels, ...]``."""
    return UNet(UNetConfig(dims=dims, in_channels=channels, out_channels=channels, cond_channels=cond_channels,
                           base_channels=net.base_channels,
                           channel_mult=tuple(net.channel_mult), num_res_blocks=net.num_res_blocks,
                           attention_levels=tuple(net.attention_levels), dropout=net.dropout))


def multiple_of(net: NetConfig) -> int:
    """The state's spatial sizes must be multiples of this."""
    return 2 ** (len(net.channel_mult) - 1)


PROCESS = VPCosine(prediction="v")
"""The diffusion path (cosine schedule, v-prediction)."""


@dataclass
class PDEModel:
    """A trained model: network, codec (with its channel scales), and where it came from."""

    net: nn.Module
    codec: Codec
    record: dict[str, Any]

    @property
    def clean_conditioning(self) -> bool:
        """True if the network takes clean known entries and their mask (``conditioning: clean``)."""
        return self.record.get("conditioning", "replace") == "clean"

    def denoiser(self) -> ModelDenoiser:
        """The network bound to :data:`PROCESS` (unconditional use)."""
        return ModelDenoiser(self.net, PROCESS)


def model_record(net: nn.Module, codec: Codec, net_cfg: NetConfig, conditioning: str = "replace",
                 **extra: Any) -> dict[str, Any]:
    """The dict saved by :func:`save_model`."""
    from dataclasses import asdict

    from genforge.core.config import dump_config

    smoke = {"smoke": asdict(codec.smoke)} if hasattr(codec, "smoke") else {}
    return {"format": MODEL_FORMAT, "codec": codec.kind, **smoke,
            "wavelet": getattr(codec, "wavelet", ""), "multiple": multiple_of(net_cfg), "conditioning": conditioning,
            "scale": codec.scale.clone(), "net": dump_config(net_cfg),
            "state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()}, **extra}


def save_model(record: dict[str, Any], path: str | Path) -> Path:
    """Write ``record`` atomically (temp file + rename)."""
    return atomic_write(path, lambda temp: torch.save(record, temp))


def read_record(path: str | Path, keys: tuple[str, ...], what: str) -> dict[str, Any]:
    """The dict saved at ``path`` (``weights_only``), checked to hold ``keys``; CheckpointError naming the file
    and ``what`` it should have been otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("file not found", source=path)
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(f"not a readable torch file ({type(error).__name__})", source=path) from error
    missing = [key for key in keys if not isinstance(record, dict) or key not in record]
    if missing:
        raise CheckpointError(f"not {what} (missing {', '.join(missing)})", source=path)
    return record


def _codec_of(record: dict[str, Any], path: str | Path) -> Codec:
    """The codec (with its scales) a model file describes."""
    kind, multiple, wavelet = record["codec"], int(record["multiple"]), record["wavelet"] or "bior2.4"
    if not str(kind).startswith("smoke_"):
        return make_codec(kind, multiple, record["scale"], wavelet)
    from genforge.datasets.smoke import SmokeConfig
    from genforge.domains.pde.smoke_representation import make_smoke_codec

    if not isinstance(record.get("smoke"), dict):
        raise CheckpointError("a smoke model file needs its box geometry", source=path, field="smoke")
    geometry = dict(record["smoke"])
    geometry["source"] = tuple(geometry["source"])
    geometry["exits"] = tuple(tuple(item) for item in geometry["exits"])
    try:
        smoke = SmokeConfig(**geometry)
    except TypeError as error:
        raise CheckpointError(f"bad smoke geometry: {error}", source=path, field="smoke") from error
    return make_smoke_codec(kind, smoke, multiple, record["scale"], wavelet)


def load_model(path: str | Path) -> PDEModel:
    """A :class:`PDEModel` from a file written by :func:`save_model`; CheckpointError if unusable."""
    from genforge.core.config import config_from_dict

    record = read_record(path, _KEYS, "a genforge PDE model file")
    if record["format"] != MODEL_FORMAT:
        raise CheckpointError(f"model format {record['format']} is not {MODEL_FORMAT}", source=path, field="format")
    net_cfg = config_from_dict(record["net"], NetConfig, source=str(path))
    codec = _codec_of(record, path)
    conditioning = record.get("conditioning", "replace")
    if conditioning not in CONDITIONINGS:
        raise CheckpointError(f"conditioning {conditioning!r} is not one of {CONDITIONINGS}", source=path,
                              field="conditioning")
    net = build_unet(net_cfg, codec.channels, codec.channels if conditioning == "clean" else 0, len(codec.shape))
    try:
        net.load_state_dict(record["state_dict"])
    except RuntimeError as error:
        raise CheckpointError(f"weights do not fit the stored architecture: {error}", source=path,
                              field="state_dict") from error
    return PDEModel(net.eval(), codec, record)

