"""Registers the materials training tasks (``task: materials.<name>`` recipes) by importing each model's task
modules (``<model>/task.py``, and ``<model>/gen_task.py`` where a model has a separate de novo task)."""

from __future__ import annotations

import importlib
import importlib.util

from genforge.domains.materials.cli import MODELS

TASK_MODULES = ("task", "gen_task")

for _model in MODELS:
    for _module in TASK_MODULES:
        if importlib.util.find_spec(f"genforge.domains.materials.{_model}") and importlib.util.find_spec(
                f"genforge.domains.materials.{_model}.{_module}"):
            importlib.import_module(f"genforge.domains.materials.{_model}.{_module}")
