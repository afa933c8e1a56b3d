"""PDE simulation and control with wavelet-domain diffusion (WDNO) on 1-D Burgers; see README.md."""
