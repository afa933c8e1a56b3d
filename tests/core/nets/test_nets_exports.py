"""Every exported name of genforge.core.nets (lazy) and genforge.core.geometry resolves to a callable,
also after the submodules were imported (a submodule must not shadow a function of the same name)."""

from __future__ import annotations

import importlib

import pytest

SUBMODULES = {
    "genforge.core.nets": ["dit", "unet", "egnn", "equivariant", "edges", "embeddings", "mlp", "init"],
    "genforge.core.geometry": ["com", "kabsch", "lattice", "rotations"],
}


@pytest.mark.parametrize("package", sorted(SUBMODULES))
def test_every_exported_name_resolves(package: str) -> None:
    for submodule in SUBMODULES[package]:
        importlib.import_module(f"{package}.{submodule}")
    module = importlib.import_module(package)
    for name in module.__all__:
        assert callable(getattr(module, name)), name
    with pytest.raises(AttributeError):
        module.not_a_name  # noqa: B018
