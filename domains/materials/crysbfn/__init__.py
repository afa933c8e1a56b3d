"""CrysBFN (periodic Bayesian flow) and a same-size DiffCSP-style wrapped-normal diffusion for crystals."""
