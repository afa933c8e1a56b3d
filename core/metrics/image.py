r"""Image and volume quality: PSNR, SSIM (Wang et al. 2004), and per-axis slice averages for volumes.

Images are ``[B, C, H, W]``; every metric returns one value per image, ``[B]``.

* PSNR: :math:`10 \log_{10}(L^2 / \mathrm{MSE})` with data range :math:`L` (``inf`` for identical images).
* SSIM, Wang, Bovik, Sheikh & Simoncelli 2004, "Image quality assessment: from error visibility to
  structural similarity", eq. (13), with local statistics under an 11 x 11 Gaussian window of
  standard deviation 1.5 (sec. III-B) and :math:`C_1 = (K_1 L)^2`, :math:`C_2 = (K_2 L)^2`,
  :math:`K_1 = 0.01`, :math:`K_2 = 0.03`:

  .. math::
      \mathrm{SSIM}(x, y) = \frac{(2\mu_x\mu_y + C_1)(2\sigma_{xy} + C_2)}
                                 {(\mu_x^2 + \mu_y^2 + C_1)(\sigma_x^2 + \sigma_y^2 + C_2)},

  averaged over the window positions fully inside the image ('valid', as the authors' ``ssim_index.m``)
  and over channels. Local (co)variances use the window-weighted moments
  :math:`\sigma_{xy} = \mu_{xy} - \mu_x\mu_y`, as the reference code. The reference code's optional
  pre-downsampling of large images is not applied (as in scikit-image).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

ImageMetric = Callable[[Tensor, Tensor], Tensor]
VOLUME_AXES = {"D": 2, "H": 3, "W": 4}


def _check_pair(x: Tensor, y: Tensor, dims: int) -> None:
    if x.shape != y.shape or x.dim() != dims:
        raise ValueError(f"expected two tensors of the same {dims}-D shape, got {tuple(x.shape)} and "
                         f"{tuple(y.shape)}")


def psnr(x: Tensor, y: Tensor, data_range: float = 1.0) -> Tensor:
    """Peak signal-to-noise ratio in dB, ``[B]``, of images (or any ``[B, ...]`` tensors) ``x`` vs ``y``."""
    if x.shape != y.shape:
        raise ValueError(f"expected tensors of the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    mse = (x - y).square().flatten(1).mean(1)
    return 10.0 * torch.log10(data_range ** 2 / mse)


def gaussian_window(size: int = 11, sigma: float = 1.5, dtype: torch.dtype = torch.float32,
                    device: torch.device | str = "cpu") -> Tensor:
    """Normalised 1-D Gaussian ``[size]`` centred on the middle tap; the 2-D window is its outer product."""
    offsets = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    weights = torch.exp(-offsets.square() / (2 * sigma ** 2))
    return weights / weights.sum()


def ssim(x: Tensor, y: Tensor, data_range: float = 1.0, window_size: int = 11, sigma: float = 1.5,
         k1: float = 0.01, k2: float = 0.03) -> Tensor:
    """Mean structural similarity ``[B]`` of images ``x``, ``y`` ``[B, C, H, W]`` (H, W >= window_size)."""
    _check_pair(x, y, 4)
    _, channels, height, width = x.shape
    if min(height, width) < window_size:
        raise ValueError(f"images of {height} x {width} are smaller than the {window_size}-pixel SSIM window")
    taps = gaussian_window(window_size, sigma, x.dtype, x.device)
    vertical = taps.view(1, 1, -1, 1).expand(5 * channels, 1, -1, 1)
    horizontal = taps.view(1, 1, 1, -1).expand(5 * channels, 1, 1, -1)
    stacked = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    moments = F.conv2d(F.conv2d(stacked, vertical, groups=5 * channels), horizontal, groups=5 * channels)
    mu_x, mu_y, xx, yy, xy = moments.split(channels, dim=1)
    var_x, var_y, cov_xy = xx - mu_x.square(), yy - mu_y.square(), xy - mu_x * mu_y
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    index = ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)) / (
        (mu_x.square() + mu_y.square() + c1) * (var_x + var_y + c2))
    return index.flatten(1).mean(1)


def per_axis(metric: ImageMetric, x: Tensor, y: Tensor) -> dict[str, Tensor]:
    """A 2-D metric of volumes ``[B, C, D, H, W]`` averaged over the slices orthogonal to each axis.

    Returns:
        ``{"D": [B], "H": [B], "W": [B]}``: e.g. ``"D"`` is the mean over the D slices ``[C, H, W]``.
        Bind metric options with ``functools.partial(ssim, data_range=2.0)``.
    """
    _check_pair(x, y, 5)
    results = {}
    for name, axis in VOLUME_AXES.items():
        values = metric(x.movedim(axis, 1).flatten(0, 1), y.movedim(axis, 1).flatten(0, 1))
        results[name] = values.reshape(x.shape[0], x.shape[axis]).mean(1)
    return results
