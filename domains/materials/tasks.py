"""Registers the materials training tasks (``task: materials.<model>`` recipes) by importing each model's task."""

from __future__ import annotations

import importlib
import importlib.util

from genforge.domains.materials.cli import MODELS

for _model in MODELS:
    if importlib.util.find_spec(f"genforge.domains.materials.{_model}") and importlib.util.find_spec(
            f"genforge.domains.materials.{_model}.task"):
        importlib.import_module(f"genforge.domains.materials.{_model}.task")
