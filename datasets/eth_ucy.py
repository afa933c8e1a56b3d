"""ETH-UCY pedestrian trajectories in the common text format: one row per observation, ``frame id x y``.

Columns are separated by whitespace (tabs or spaces); frame and id may be written as floats (``10.0``).
Frame numbers advance by a fixed stride (10 in the original files, 2.5 fps); the stride is the smallest
positive gap between distinct frames. :func:`scene_windows` cuts a scene into windows of ``span``
consecutive frames holding the pedestrians present in every frame of the window, as dense ``[span, N, 2]``
tensors (metres), ready for the trajectory models with 2-D positions.

The files are not shipped: point the loader at them (``data_root()/eth_ucy/<scene>.txt`` by convention).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from genforge.core.errors import DataError
from genforge.datasets.storage import require_file


@dataclass(frozen=True)
class PedestrianScene:
    """All observations of one scene, sorted by (frame, id): ``frames [M]``, ``ids [M]`` (long),
    ``pos [M, 2]`` (metres), and the frame ``stride``."""

    frames: Tensor
    ids: Tensor
    pos: Tensor
    stride: int


def read_eth_ucy(path: str | Path) -> PedestrianScene:
    """Parse an ETH-UCY text file; :class:`DataError` names the file and line of any malformed row."""
    path = require_file(path, "pass the path of an ETH-UCY scene file (frame id x y per line)")
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 4:
            raise DataError(f"expected 4 columns (frame id x y), got {len(parts)}", source=path, field=f"line {number}")
        try:
            frame, pid, x, y = (float(p) for p in parts)
        except ValueError as err:
            raise DataError(f"non-numeric value: {err}", source=path, field=f"line {number}") from err
        if not all(map(torch.isfinite, torch.tensor([frame, pid, x, y]))):
            raise DataError("NaN or infinite value", source=path, field=f"line {number}")
        if frame != int(frame) or pid != int(pid):
            raise DataError("frame and id must be integers", source=path, field=f"line {number}")
        rows.append((int(frame), int(pid), x, y))
    if not rows:
        raise DataError("no observations", source=path)
    table = torch.tensor([[r[0], r[1]] for r in rows], dtype=torch.long)
    pos = torch.tensor([[r[2], r[3]] for r in rows], dtype=torch.float64)
    order = torch.argsort(table[:, 0] * (int(table[:, 1].max()) + 1) + table[:, 1])
    table, pos = table[order], pos[order]
    keys = table[:, 0] * (int(table[:, 1].max()) + 1) + table[:, 1]
    if torch.unique(keys).numel() != keys.numel():
        raise DataError("a pedestrian id appears twice in one frame", source=path)
    distinct = torch.unique(table[:, 0])
    gaps = distinct[1:] - distinct[:-1]
    stride = int(gaps.min()) if gaps.numel() else 1
    return PedestrianScene(table[:, 0].contiguous(), table[:, 1].contiguous(), pos.float(), stride)


def scene_windows(scene: PedestrianScene, span: int, *, min_agents: int = 1) -> list[Tensor]:
    """Windows ``[span, N, 2]`` starting at every frame; N = pedestrians seen in all ``span`` frames
    (ordered by id); windows with fewer than ``min_agents`` pedestrians are dropped."""
    frame_index = (scene.frames - scene.frames.min()) // scene.stride
    num_frames = int(frame_index.max()) + 1
    agents = torch.unique(scene.ids)
    agent_index = torch.searchsorted(agents, scene.ids)
    grid = torch.full((num_frames, agents.numel(), 2), float("nan"))
    grid[frame_index, agent_index] = scene.pos
    present = ~torch.isnan(grid[..., 0])  # [F, A]
    windows = []
    for start in range(num_frames - span + 1):
        keep = present[start:start + span].all(dim=0)
        if int(keep.sum()) >= min_agents:
            windows.append(grid[start:start + span, keep])
    return windows
