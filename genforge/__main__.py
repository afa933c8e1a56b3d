"""Run the CLI as ``python -m genforge``."""

from genforge.cli import main

main()
