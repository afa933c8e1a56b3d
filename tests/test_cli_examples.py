"""Every `genforge` command's --help ends with one runnable example: the example names that command and
uses only options the command has."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

import pytest
from typer.main import get_command

from genforge.cli import app


def leaf_commands() -> Iterator[tuple[str, object]]:
    """(space-separated command path, click command) for every command that runs something."""
    stack = [([], get_command(app))]
    while stack:
        path, command = stack.pop()
        if hasattr(command, "commands"):
            stack += [([*path, name], sub) for name, sub in command.commands.items()]
        else:
            yield " ".join(path), command


COMMANDS = dict(leaf_commands())


def test_every_domain_group_is_present() -> None:
    groups = {path.split()[0] for path in COMMANDS if " " in path}
    assert {"materials", "medical", "pde", "splat", "traj", "ts"} <= groups


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_help_has_an_example_of_this_command_with_real_options(path: str) -> None:
    command = COMMANDS[path]
    lines = [line.strip() for line in (command.help or "").splitlines() if line.strip().startswith("Example:")]
    assert len(lines) == 1, f"`genforge {path} --help` needs one 'Example: genforge {path} ...' line"
    words = shlex.split(lines[0].removeprefix("Example:"))
    assert words[:1 + len(path.split())] == ["genforge", *path.split()], lines[0]
    known = {opt for param in command.params for opt in param.opts + param.secondary_opts}
    used = {word.split("=")[0] for word in words if word.startswith("-")}
    assert used <= known, f"{path}: example uses unknown options {sorted(used - known)}"
