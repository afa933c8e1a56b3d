"""User-facing errors. The CLI prints them in one line and exits with code 2."""

from __future__ import annotations

from pathlib import Path


class GenforgeError(Exception):
    """Base class for every failure caused by user input (files, configs, arguments).

    Args:
        message: what was wrong and what was expected.
        source: the file (or other input) at fault, if any.
        field: the key, column, row or line inside ``source``, if any.
    """

    exit_code = 2

    def __init__(self, message: str, *, source: str | Path | None = None, field: str | None = None):
        self.message = " ".join(str(message).split())  # one line, whatever a wrapped library said
        self.source = None if source is None else str(source)
        self.field = field
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.source is not None:
            where = f"{self.source}"
        if self.field is not None:
            where = f"{where}: {self.field}" if where else self.field
        return f"{where}: {self.message}" if where else self.message


class ConfigError(GenforgeError):
    """A config file is missing, unparsable, has an unknown key or a value of the wrong type."""


class DataError(GenforgeError):
    """A data file is missing or malformed (bad row, NaN, wrong shape, unknown element...)."""


class CheckpointError(GenforgeError):
    """A checkpoint file is missing, truncated, corrupted or from an incompatible model."""


class TrainingError(GenforgeError):
    """Training cannot continue (e.g. too many non-finite losses in a row)."""
