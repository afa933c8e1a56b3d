"""Adaptive density control of 3DGS (Kerbl et al. 2023, sec. 5.2): clone, split, prune, opacity reset.

Gaussians whose average screen-space positional gradient (NDC units) exceeds ``grad_threshold`` are
cloned when small (max scale <= ``percent_dense`` x scene extent) and split into two samples of the
Gaussian with scales / 1.6 when large. Then every Gaussian (new ones included) with opacity < ``min_opacity``
or a world scale above ``max_scale`` x scene extent is pruned. The Adam moments of kept Gaussians are carried
over; new ones start at zero.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genforge.core.geometry.rotations import quaternion_to_matrix


class DensityControl:
    """Accumulates screen-space gradients and edits the parameters and the Adam state in place.

    Args:
        params: leaf tensors ``[N, ...]`` by name; must hold ``means``, ``quats``, ``log_scales`` and
            ``opacity_logits`` (the unconstrained fields of :class:`~genforge.core.render.Gaussians`).
        optimizer: Adam with one parameter group per entry of ``params``, named by the group's ``"name"``.
    """

    def __init__(self, params: dict[str, Tensor], optimizer: torch.optim.Optimizer) -> None:
        self.params, self.optimizer = params, optimizer
        self.reset_stats()

    @property
    def num(self) -> int:
        """Current number of Gaussians."""
        return self.params["means"].shape[0]

    def reset_stats(self) -> None:
        """Zero the gradient accumulators."""
        n = self.num
        self.grad_sum = torch.zeros(n)
        self.seen = torch.zeros(n)

    def observe(self, means2d: Tensor, radii: Tensor, width: int, height: int) -> None:
        """Add the NDC-scaled gradient norm of ``means2d [I, N, 2]`` (after backward) for visible Gaussians."""
        if means2d.grad is None:
            return
        grad = means2d.grad.detach() * torch.tensor([0.5 * width, 0.5 * height])
        visible = radii > 0
        self.grad_sum += torch.where(visible, grad.norm(dim=-1), torch.zeros_like(radii, dtype=grad.dtype)).sum(0)
        self.seen += visible.sum(0)

    def step(self, *, grad_threshold: float, percent_dense: float, extent: float, min_opacity: float,
             max_scale: float, max_gaussians: int, generator: torch.Generator) -> dict[str, int]:
        """Clone / split / prune once; returns the counts."""
        p = self.params
        with torch.no_grad():
            avg = self.grad_sum / self.seen.clamp_min(1)
            big_grad = avg >= grad_threshold
            room = max(0, max_gaussians - self.num)
            if int(big_grad.sum()) > room:
                ranked = avg.masked_fill(~big_grad, -1.0)
                big_grad = torch.zeros_like(big_grad) if room == 0 else big_grad & (
                    ranked >= torch.topk(ranked, room).values[-1])
            max_s = p["log_scales"].exp().amax(-1)
            clone = big_grad & (max_s <= percent_dense * extent)
            split = big_grad & (max_s > percent_dense * extent)
            new = {k: v[clone] for k, v in p.items()}
            rot = quaternion_to_matrix(p["quats"][split] / p["quats"][split].norm(dim=-1, keepdim=True))
            scales = p["log_scales"][split].exp()
            for _ in range(2):
                offset = (rot @ (scales * torch.randn(scales.shape, generator=generator))[..., None])[..., 0]
                part = {k: v[split] for k, v in p.items()}
                part["means"] = part["means"] + offset
                part["log_scales"] = part["log_scales"] - math.log(1.6)
                new = {k: torch.cat([new[k], part[k]]) for k in new}
            prune = (torch.sigmoid(p["opacity_logits"]) < min_opacity) | (max_s > max_scale * extent)
            new_prune = (torch.sigmoid(new["opacity_logits"]) < min_opacity) | (
                new["log_scales"].exp().amax(-1) > max_scale * extent)
            self._apply(~(prune | split), {k: v[~new_prune] for k, v in new.items()})
        self.reset_stats()
        return {"cloned": int(clone.sum()), "split": int(split.sum()),
                "pruned": int((prune & ~split).sum() + new_prune.sum()), "total": self.num}

    def reset_opacity(self, value: float = 0.01) -> None:
        """Clamp every opacity to at most ``value`` and zero its Adam moments (3DGS opacity reset)."""
        with torch.no_grad():
            logit = math.log(value / (1 - value))
            self.params["opacity_logits"].clamp_(max=logit)
        for group in self.optimizer.param_groups:
            if group["name"] == "opacity_logits":
                state = self.optimizer.state.get(group["params"][0], {})
                for key in ("exp_avg", "exp_avg_sq"):
                    if key in state:
                        state[key].zero_()

    def _apply(self, keep: Tensor, new: dict[str, Tensor]) -> None:
        for group in self.optimizer.param_groups:
            name = group["name"]
            old = group["params"][0]
            fresh = torch.cat([old.detach()[keep], new[name]]).requires_grad_(True)
            state = self.optimizer.state.pop(old, None)
            if state:
                for key in ("exp_avg", "exp_avg_sq"):
                    state[key] = torch.cat([state[key][keep], torch.zeros_like(new[name])])
                self.optimizer.state[fresh] = state
            group["params"][0] = fresh
            self.params[name] = fresh
