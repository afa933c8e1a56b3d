"""Map the root folders core/, domains/, datasets/ onto genforge.core / .domains / .datasets.

Every folder holding an ``__init__.py`` under those roots becomes a package, so a new module is
packaged without touching this file (tests/test_packaging.py checks it).
"""

from setuptools import find_packages, setup

ROOTS = {"genforge": "genforge", "genforge.core": "core", "genforge.domains": "domains",
         "genforge.datasets": "datasets"}


def _packages() -> tuple[list[str], dict[str, str]]:
    packages: list[str] = []
    package_dir: dict[str, str] = {}
    for name, folder in ROOTS.items():
        packages.append(name)
        package_dir[name] = folder
        for sub in find_packages(folder):
            packages.append(f"{name}.{sub}")
            package_dir[f"{name}.{sub}"] = f"{folder}/{sub.replace('.', '/')}"
    return packages, package_dir


PACKAGES, PACKAGE_DIR = _packages()
setup(packages=PACKAGES, package_dir=PACKAGE_DIR,
      package_data={"": ["*.yaml", "*.json", "*.pt", "checkpoints/*.pt", "checkpoints/*.json"]})
