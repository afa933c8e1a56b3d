"""Medical 3-D inverse problems: sparse-view / limited-angle CT and CS-MRI with 2-D diffusion priors."""
