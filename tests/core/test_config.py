"""Typed YAML configs: field-level errors, round trip, overrides, the task registry."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from genforge.core.config import (
    config_from_dict,
    dump_config,
    dump_task_config,
    load_config,
    load_task_config,
    override,
    register_task,
    registered_tasks,
    save_config,
    task_from_dict,
)
from genforge.core.errors import ConfigError
from genforge.core.train import TrainConfig


class Norm(enum.Enum):
    LAYER = "layer"
    GROUP = "group"


@dataclass(frozen=True)
class ModelCfg:
    channels: list[int] = field(default_factory=lambda: [32, 64])
    norm: Norm = Norm.LAYER
    dropout: float = 0.0
    kind: Literal["dit", "unet"] = "dit"


@dataclass(frozen=True)
class RecipeCfg:
    name: str
    train: TrainConfig = field(default_factory=TrainConfig)
    model: ModelCfg = field(default_factory=ModelCfg)
    data_root: Path | None = None
    shape: tuple[int, int] = (8, 8)
    extra: dict[str, float] = field(default_factory=dict)
    anything: Any = None


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


def _error(path: Path, cls: type = RecipeCfg) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, cls)
    return str(info.value)


def test_nested_types_are_built(tmp_path):
    path = _write(tmp_path, """
name: demo
train: {steps: 5, lr: 1e-4, betas: [0.9, 0.99], grad_clip: null, out_dir: runs/x, warmup_steps: 0}
model: {channels: [1, 2, 3], norm: group, dropout: 0, kind: unet}
data_root: /data
shape: [4, 5]
extra: {a: 1, b: 2.5}
anything: [1, x]
""")
    cfg = load_config(path, RecipeCfg)
    assert cfg.train.lr == 1e-4 and isinstance(cfg.train.lr, float)
    assert cfg.train.betas == (0.9, 0.99) and cfg.train.grad_clip is None
    assert cfg.train.out_dir == Path("runs/x")
    assert cfg.model == ModelCfg(channels=[1, 2, 3], norm=Norm.GROUP, dropout=0.0, kind="unet")
    assert isinstance(cfg.model.dropout, float)
    assert cfg.data_root == Path("/data") and cfg.shape == (4, 5) and cfg.extra == {"a": 1.0, "b": 2.5}
    assert cfg.anything == [1, "x"]


def test_unknown_key_names_the_key_and_suggests_the_close_one(tmp_path):
    message = _error(_write(tmp_path, "name: a\ntrain:\n  stepz: 3\n"))
    assert "recipe.yaml" in message and "train.stepz" in message
    assert "unknown key" in message and "did you mean 'train.steps'" in message
    message = _error(_write(tmp_path, "name: a\nzzzzzz: 3\n"))
    assert "valid keys: name, train, model" in message


def test_wrong_type_names_expected_and_got(tmp_path):
    message = _error(_write(tmp_path, "name: a\ntrain: {steps: 2.5}\n"))
    assert "train.steps" in message and "expected int, got float 2.5" in message
    message = _error(_write(tmp_path, "name: a\nmodel: {channels: [1, two]}\n"))
    assert "model.channels[1]" in message and "expected int, got str 'two'" in message
    message = _error(_write(tmp_path, "name: a\ntrain: {grad_clip: yes}\n"))
    assert "expected float | None, got bool True" in message
    message = _error(_write(tmp_path, "name: a\ntrain: {schedule: cosin}\n"))
    assert "one of 'cosine', 'constant'" in message and "did you mean 'cosine'" in message
    message = _error(_write(tmp_path, "name: a\nmodel: {norm: batch}\n"))
    assert "model.norm" in message and "one of 'layer', 'group'" in message
    message = _error(_write(tmp_path, "name: a\nshape: [1, 2, 3]\n"))
    assert "shape" in message and "with 2 items, got 3" in message


def test_missing_required_field_missing_file_syntax_and_duplicates(tmp_path):
    assert "name: missing required field (str)" in _error(_write(tmp_path, "train: {steps: 1}\n"))
    missing = tmp_path / "absent.yaml"
    assert str(missing) in _error(missing) and "not found" in _error(missing)
    message = _error(_write(tmp_path, "name: a\ntrain:\n  steps: [1, 2\n  lr: 3\n"))
    assert "YAML syntax error" in message and "line 4" in message
    message = _error(_write(tmp_path, "name: a\nname: b\n"))
    assert "duplicate key 'name'" in message and "line 2" in message
    assert "top level" in _error(_write(tmp_path, "- 1\n- 2\n"))


def test_post_init_checks_are_reported_at_the_field(tmp_path):
    message = _error(_write(tmp_path, "name: a\ntrain: {ema_decay: 1.5}\n"))
    assert "train.ema_decay" in message and "in [0, 1)" in message


def test_round_trip_dump_save_load(tmp_path):
    cfg = RecipeCfg(name="x", train=TrainConfig(steps=7, lr=3e-4, out_dir=Path("o")),
                    model=ModelCfg(norm=Norm.GROUP), data_root=Path("d"), extra={"k": 0.5},
                    anything={"n": [1]})
    data = dump_config(cfg)
    assert data["model"]["norm"] == "group" and data["train"]["out_dir"] == "o" and data["shape"] == [8, 8]
    assert config_from_dict(data, RecipeCfg) == cfg
    path = tmp_path / "saved.yaml"
    save_config(cfg, path)
    assert load_config(path, RecipeCfg) == cfg
    assert not list(tmp_path.glob(".*tmp"))


def test_overrides_are_typed_like_the_file():
    cfg = RecipeCfg(name="x")
    changed = override(cfg, ["train.steps=30", "train.lr=1e-3", "model.channels=[4, 8]", "name=123",
                             "train.grad_clip=null", "data_root=/tmp/a", "extra.new=2", "model.norm=group"])
    assert changed.train.steps == 30 and changed.train.lr == 1e-3 and changed.model.channels == [4, 8]
    assert changed.name == "123" and changed.train.grad_clip is None and changed.data_root == Path("/tmp/a")
    assert changed.extra == {"new": 2.0} and changed.model.norm is Norm.GROUP
    assert cfg.train.steps == 1000  # the original is untouched
    with pytest.raises(ConfigError, match=r"train\.steps: expected int, got str 'many'"):
        override(cfg, ["train.steps=many"])
    with pytest.raises(ConfigError, match=r"did you mean 'train\.lr'"):
        override(cfg, ["train.lrr=1"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        override(cfg, ["train.steps"])
    with pytest.raises(ConfigError, match=r"'train\.steps' is not a mapping"):
        override(cfg, ["train.steps.x=1"])


@dataclass(frozen=True)
class EchoCfg:
    word: str = "hi"
    times: int = 1


@register_task("test_echo")
def _echo(cfg: EchoCfg, *, resume: bool = False) -> str:
    return cfg.word * cfg.times


def test_task_registry_and_task_files(tmp_path):
    name, cfg, run = load_task_config(_write(tmp_path, "task: test_echo\ntimes: 3\n"))
    assert (name, cfg, run(cfg)) == ("test_echo", EchoCfg(times=3), "hihihi")
    assert registered_tasks()["test_echo"].config_cls is EchoCfg
    assert task_from_dict(dump_task_config(name, cfg))[1] == cfg
    for text, expected in [("task: test_ech\n", "did you mean 'test_echo'"),
                           ("times: 3\n", "task: missing required key"),
                           ("task: test_echo\ntimez: 3\n", "did you mean 'times'")]:
        with pytest.raises(ConfigError) as info:
            load_task_config(_write(tmp_path, text))
        assert expected in str(info.value)
    with pytest.raises(TypeError, match="annotated"):
        register_task("bad")(lambda cfg: None)
    with pytest.raises(ValueError, match="already registered"):

        @register_task("test_echo")
        def _other(cfg: EchoCfg) -> None: ...
