"""Geometric trajectories: GeoTDM (equivariant spatio-temporal diffusion), baselines, N-body / MD data, extxyz IO."""
