"""Run the CLI as ``python -m genforge``."""

from genforge.cli import app

app(prog_name="genforge")
