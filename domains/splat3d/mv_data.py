"""Training and evaluation examples of the multiview model from the procedural object dataset.

An example is one object with a context view and ``T`` target views (distinct), cameras in the context frame
(:func:`~genforge.domains.splat3d.rays.context_frame`). Training draws the views at random with the loss
generator; evaluation uses view 0 as context and views ``1 .. T`` as targets.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from genforge.datasets.splat_objects import ObjectsConfig, ObjectViews, load_objects
from genforge.domains.splat3d.multiview import ViewCond
from genforge.domains.splat3d.rays import context_frame

HELD_OUT_START = 1_000_000
"""Index of the first held-out object (training objects are 0 .. num_train - 1, same dataset seed)."""
CACHE_CHUNK = 250
"""Objects per cache file, so that generating a large training set can be interrupted and resumed."""


@dataclass(frozen=True)
class MultiviewDataConfig:
    """Objects: ``num_train`` training objects, ``num_eval`` held-out ones (from :data:`HELD_OUT_START`),
    each rendered from ``views`` cameras at ``size`` pixels; ``targets`` target views per example."""

    size: int = 32
    views: int = 8
    num_train: int = 2000
    num_eval: int = 32
    targets: int = 2
    seed: int = 0

    def objects(self) -> ObjectsConfig:
        return ObjectsConfig(size=self.size, views=self.views, seed=self.seed)


def training_objects(cfg: MultiviewDataConfig) -> ObjectViews:
    """The cached training objects (generated and cached in chunks of :data:`CACHE_CHUNK`)."""
    chunks = [load_objects(min(CACHE_CHUNK, cfg.num_train - start), cfg.objects(), start=start)
              for start in range(0, cfg.num_train, CACHE_CHUNK)]
    return ObjectViews(torch.cat([c.images for c in chunks]), torch.cat([c.alphas for c in chunks]),
                       torch.cat([c.viewmats for c in chunks]), chunks[0].Ks)


def held_out_objects(cfg: MultiviewDataConfig) -> ObjectViews:
    """The cached held-out objects (never trained on)."""
    return load_objects(cfg.num_eval, cfg.objects(), start=HELD_OUT_START)


@dataclass
class Example:
    """Clean target views ``x0 [B, T, 3, H, W]`` and the context ``[B, 3, H, W]`` in [-1, 1], the condition."""

    x0: Tensor
    context: Tensor
    cond: ViewCond


def make_example(images: Tensor, viewmats: Tensor, order: Tensor, targets: int, radius: float,
                 keep: Tensor | None = None) -> Example:
    """Example from objects ``images [B, V, 3, H, W]`` in [0, 1], ``viewmats [B, V, 4, 4]`` and a view order
    ``[B, V]`` (first = context, next ``targets`` = targets)."""
    rows = torch.arange(images.shape[0])[:, None]
    chosen = order[:, :1 + targets]
    pictures = images[rows, chosen] * 2 - 1
    cameras = context_frame(viewmats[rows, chosen], torch.zeros(len(rows), dtype=torch.long), radius)
    keep = torch.ones(images.shape[0], dtype=torch.bool) if keep is None else keep
    return Example(pictures[:, 1:], pictures[:, 0], ViewCond(pictures[:, 0], cameras[:, 1:], keep))


def random_example(images: Tensor, viewmats: Tensor, targets: int, radius: float, p_uncond: float,
                   generator: torch.Generator) -> Example:
    """Random distinct views per object; the context is dropped with probability ``p_uncond`` (CFG)."""
    b, v = images.shape[:2]
    order = torch.rand(b, v, generator=generator, device=images.device).argsort(dim=1)
    keep = torch.rand(b, generator=generator, device=images.device) >= p_uncond
    return make_example(images, viewmats, order, targets, radius, keep)


def evaluation_example(objects: ObjectViews, targets: int, radius: float) -> Example:
    """View 0 as context, views ``1 .. targets`` as targets, for every object."""
    order = torch.arange(objects.images.shape[1]).expand(objects.images.shape[0], -1)
    return make_example(objects.images, objects.viewmats, order, targets, radius)
