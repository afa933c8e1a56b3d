"""3DGS .ply files in the standard layout read by common splat viewers (Inria 3DGS, SuperSplat, gsplat).

One ``vertex`` element of little-endian float32 properties, in this order: ``x y z nx ny nz``,
``f_dc_0..2`` (DC SH per channel), ``f_rest_0..`` (higher SH, channel-major: ``f_rest_{c * (K - 1) + k}``),
``opacity`` (logit), ``scale_0..2`` (log standard deviations), ``rot_0..3`` (quaternion w, x, y, z).
Files are written to a temporary name and renamed; malformed files raise :class:`DataError`.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from genforge.core.errors import DataError
from genforge.core.render.gaussians import Gaussians

PLY_TYPES = {"float": "<f4", "float32": "<f4", "double": "<f8", "float64": "<f8", "uchar": "u1", "uint8": "u1",
             "int": "<i4", "int32": "<i4", "uint": "<u4", "short": "<i2", "ushort": "<u2", "char": "i1"}


def _property_names(num_rest: int) -> list[str]:
    return (["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
            + [f"f_rest_{i}" for i in range(num_rest)]
            + ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"])


def save_ply(gaussians: Gaussians, path: str | Path) -> Path:
    """Write ``gaussians`` to ``path`` (atomic: temp file then rename). Returns the path."""
    path = Path(path)
    g = {k: v.detach().to("cpu", torch.float32) for k, v in gaussians.tensors().items()}
    n, k = g["sh"].shape[:2]
    rest = g["sh"][:, 1:].transpose(1, 2).reshape(n, 3 * (k - 1))
    columns = torch.cat([g["means"], torch.zeros(n, 3), g["sh"][:, 0], rest, g["opacity_logits"][:, None],
                         g["log_scales"], g["quats"]], dim=1).numpy().astype("<f4")
    names = _property_names(3 * (k - 1))
    header = "\n".join(["ply", "format binary_little_endian 1.0", f"element vertex {n}",
                        *[f"property float {name}" for name in names], "end_header"]) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(header.encode("ascii"))
            out.write(np.ascontiguousarray(columns).tobytes())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)
    return path


def _read_header(raw: bytes, path: Path) -> tuple[int, list[tuple[str, str]], int]:
    """Vertex count, ``(name, numpy dtype)`` properties and the byte offset of the data."""
    end = raw.find(b"end_header\n")
    if not raw.startswith(b"ply\n") or end < 0:
        raise DataError("not a PLY file (expected 'ply' first and an 'end_header' line)", source=path)
    lines = raw[:end].decode("ascii", errors="replace").splitlines()[1:]
    count, props, element = None, [], None
    for number, line in enumerate(lines, start=2):
        words = line.split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "format" and words[1:2] != ["binary_little_endian"]:
            raise DataError(f"unsupported PLY format {' '.join(words[1:])!r}; expected binary_little_endian",
                            source=path, field=f"line {number}")
        if words[0] == "element":
            if len(words) != 3 or words[1] != "vertex" or not words[2].isdigit() or count is not None:
                raise DataError(f"unexpected element {line!r}; a 3DGS file holds one 'vertex N' element",
                                source=path, field=f"line {number}")
            element, count = "vertex", int(words[2])
        if words[0] == "property":
            if element != "vertex" or len(words) != 3 or words[1] not in PLY_TYPES:
                raise DataError(f"unsupported property line {line!r}", source=path, field=f"line {number}")
            props.append((words[2], PLY_TYPES[words[1]]))
    if count is None:
        raise DataError("no 'element vertex N' line", source=path)
    return count, props, end + len(b"end_header\n")


def load_ply(path: str | Path) -> Gaussians:
    """Read a 3DGS .ply (any SH degree 0..3, extra properties ignored) into :class:`Gaussians` (float32)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", source=path)
    raw = path.read_bytes()
    count, props, offset = _read_header(raw, path)
    names = [name for name, _ in props]
    rest = sorted((n for n in names if n.startswith("f_rest_")), key=lambda s: int(s.split("_")[-1]))
    num_k = len(rest) // 3 + 1
    if len(rest) % 3 or math.isqrt(num_k) ** 2 != num_k or num_k > 16:
        raise DataError(f"{len(rest)} f_rest_* properties; expected 3 * ((degree + 1)^2 - 1) for degree 0..3",
                        source=path, field="f_rest")
    missing = [n for n in _property_names(len(rest)) if n not in names and n not in ("nx", "ny", "nz")]
    if missing:
        raise DataError(f"missing vertex properties {missing}", source=path, field="vertex")
    dtype = np.dtype(props)
    if len(raw) - offset != count * dtype.itemsize:
        raise DataError(f"data holds {len(raw) - offset} bytes; {count} vertices of {dtype.itemsize} bytes expected",
                        source=path, field="vertex")
    data = np.frombuffer(raw, dtype=dtype, count=count, offset=offset)

    def cols(*keys: str) -> torch.Tensor:
        return torch.from_numpy(np.stack([data[key].astype(np.float32) for key in keys], axis=-1))

    sh_rest = cols(*rest).reshape(count, 3, num_k - 1).transpose(1, 2) if rest else torch.zeros(count, 0, 3)
    gaussians = Gaussians(means=cols("x", "y", "z"), quats=cols("rot_0", "rot_1", "rot_2", "rot_3"),
                          log_scales=cols("scale_0", "scale_1", "scale_2"), opacity_logits=cols("opacity")[:, 0],
                          sh=torch.cat([cols("f_dc_0", "f_dc_1", "f_dc_2")[:, None], sh_rest], dim=1).contiguous())
    if not all(torch.isfinite(t).all() for t in gaussians.tensors().values()):
        raise DataError("non-finite values in vertex data", source=path, field="vertex")
    return gaussians
