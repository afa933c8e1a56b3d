"""genforge: one diffusion / flow engine (genforge.core) shared by six scientific domains."""

__version__ = "0.1.0"

__all__ = ["__version__"]
