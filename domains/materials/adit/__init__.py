"""ADiT: all-atom diffusion transformers (joint VAE over molecules and crystals + latent DiT)."""
