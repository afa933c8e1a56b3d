"""Gaussian-splat 3D: per-scene fitting of 3D Gaussians to posed images, rendering, .ply export."""
