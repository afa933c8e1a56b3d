"""Engine-level CLI commands: doctor, and the help text every command must carry."""

from __future__ import annotations

from typer.testing import CliRunner

from genforge.cli import app
from genforge.doctor import PACKAGES, package_statuses


def test_doctor_lists_libraries_and_backends() -> None:
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    for name in ("torch", "gsplat", "tblite", "CUDA", "Gaussian rasterizer"):
        assert name in result.output
    statuses = {row.name: row for row in package_statuses()}
    assert set(statuses) == set(PACKAGES) and statuses["torch"].version is not None


def test_engine_commands_explain_themselves_with_an_example() -> None:
    for command in ("sample", "export", "report", "doctor"):
        result = CliRunner().invoke(app, [command, "--help"])
        assert result.exit_code == 0 and "Example" in result.output, command
