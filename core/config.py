"""Typed configs: dataclasses read from YAML with field-level errors, CLI overrides and a task registry.

A config is a (usually frozen) dataclass whose fields are annotated with ``bool``, ``int``, ``float``
(accepts ints), ``str``, ``Path``, an ``Enum``, a ``Literal[...]``, ``X | None``, ``list[X]``,
``tuple[X, ...]`` / ``tuple[X, Y]``, ``dict[str, X]``, ``Any`` or another dataclass. :func:`load_config`
builds it recursively and every failure is a :class:`~genforge.core.errors.ConfigError` naming the file
and the dotted key (``train.lr``, ``model.channels[2]``): missing file, YAML syntax error (with line),
duplicate or unknown key (with the closest valid key), wrong type (expected vs got), missing required
field. ``__post_init__`` checks may raise ``ValueError`` or ``ConfigError(field=...)``; both are reported
at the dataclass's key. YAML is read as YAML 1.2 reads numbers, so ``lr: 1e-4`` is a float.

A recipe file names its task: ``task: toy2d`` plus that task's fields. Tasks register with
``@register_task("toy2d")`` on a run function whose first parameter is annotated with the task's config
dataclass; :func:`load_task_config` returns ``(name, cfg, run)``.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import inspect
import re
import types
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePath
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from genforge.core.atomic import atomic_write_bytes
from genforge.core.errors import ConfigError

ConfigT = TypeVar("ConfigT")
RunFn = Callable[..., Any]
SampleFn = Callable[..., list[Path]]
TASK_KEY = "task"


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader that reads ``1e-4`` as a float (YAML 1.2) and rejects duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


@dataclasses.dataclass(frozen=True)
class _At:
    """Where a value came from: the file (or override) and the dotted key inside it."""

    source: str
    key: str = ""

    def child(self, name: object) -> _At:
        return _At(self.source, f"{self.key}.{name}" if self.key else str(name))

    def index(self, position: int) -> _At:
        return _At(self.source, f"{self.key}[{position}]")

    def error(self, message: str) -> ConfigError:
        return ConfigError(message, source=self.source, field=self.key or None)


def type_name(tp: Any) -> str:
    """Readable name of a field annotation, e.g. ``float | None``, ``list[int]``, ``one of 'a', 'b'``."""
    origin, args = get_origin(tp), get_args(tp)
    if origin is Union or origin is types.UnionType:
        return " | ".join(type_name(arg) for arg in args)
    if origin is Literal:
        return "one of " + ", ".join(repr(arg) for arg in args)
    if origin is not None:
        inner = ", ".join("..." if arg is Ellipsis else type_name(arg) for arg in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if tp is type(None):
        return "None"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(repr(member.value) for member in tp)
    return getattr(tp, "__name__", str(tp))


def _got(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def _convert(value: Any, tp: Any, at: _At) -> Any:
    """``value`` (parsed YAML) checked and converted to annotation ``tp``."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return value
    if origin is Union or origin is types.UnionType:
        return _convert_union(value, tp, at)
    if origin is Literal:
        if any(type(value) is type(arg) and value == arg for arg in args):
            return value
        close = difflib.get_close_matches(str(value), [str(arg) for arg in args], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise at.error(f"expected {type_name(tp)}, got {_got(value)}{hint}")
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _build(tp, value, at)
    if origin in (list, tuple):
        return _convert_sequence(value, tp, at)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise at.error(f"expected {type_name(tp)}, got {_got(value)}")
        key_type, value_type = args or (Any, Any)
        return {_convert(key, key_type, at.child(key)): _convert(item, value_type, at.child(key))
                for key, item in value.items()}
    return _convert_scalar(value, tp, at)


def _convert_union(value: Any, tp: Any, at: _At) -> Any:
    args = get_args(tp)
    if value is None:
        if type(None) in args:
            return None
        raise at.error(f"expected {type_name(tp)}, got None")
    options = [arg for arg in args if arg is not type(None)]
    if len(options) == 1:
        try:
            return _convert(value, options[0], at)
        except ConfigError as err:
            if err.field != (at.key or None):
                raise
            expected = f"expected {type_name(options[0])}"
            raise at.error(err.message.replace(expected, f"{expected} | None", 1)) from err
    exact = [arg for arg in options if arg is type(value)]
    for option in exact + [arg for arg in options if arg not in exact]:
        try:
            return _convert(value, option, at)
        except ConfigError:
            continue
    raise at.error(f"expected {type_name(tp)}, got {_got(value)}")


def _convert_sequence(value: Any, tp: Any, at: _At) -> list[Any] | tuple[Any, ...]:
    origin, args = get_origin(tp), get_args(tp)
    if not isinstance(value, (list, tuple)):
        raise at.error(f"expected {type_name(tp)}, got {_got(value)}")
    if origin is list or (len(args) == 2 and args[1] is Ellipsis):
        item_type = args[0] if args else Any
        items = [_convert(item, item_type, at.index(i)) for i, item in enumerate(value)]
        return items if origin is list else tuple(items)
    if len(value) != len(args):
        raise at.error(f"expected {type_name(tp)} with {len(args)} items, got {len(value)}: {value!r}")
    pairs = enumerate(zip(value, args, strict=True))
    return tuple(_convert(item, arg, at.index(i)) for i, (item, arg) in pairs)


def _convert_scalar(value: Any, tp: Any, at: _At) -> Any:
    if not isinstance(tp, type):
        raise TypeError(f"unsupported config annotation {tp!r} at '{at.key}'")
    if issubclass(tp, enum.Enum):
        for member in tp:
            if value == member.value or value == member.name or value is member:
                return member
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif issubclass(tp, PurePath):
        if isinstance(value, (str, PurePath)):
            return tp(value)
    elif tp in (bool, str):
        if isinstance(value, tp):
            return value
    else:
        raise TypeError(f"unsupported config annotation {tp!r} at '{at.key}'")
    raise at.error(f"expected {type_name(tp)}, got {_got(value)}")


def _init_fields(cls: type) -> dict[str, dataclasses.Field[Any]]:
    return {field.name: field for field in dataclasses.fields(cls) if field.init}


def _build(cls: type[ConfigT], data: Any, at: _At) -> ConfigT:
    """Dataclass ``cls`` from a mapping, checking keys, types and required fields."""
    if isinstance(data, cls):
        return data
    if not isinstance(data, Mapping):
        raise at.error(f"expected a mapping of {cls.__name__} fields, got {_got(data)}")
    hints = get_type_hints(cls)
    fields = _init_fields(cls)
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = (f"did you mean '{at.child(close[0]).key}'?" if close
                    else f"valid keys: {', '.join(fields)}")
            raise at.child(key).error(f"unknown key; {hint}")
    values = {}
    for name, field in fields.items():
        if name in data:
            values[name] = _convert(data[name], hints[name], at.child(name))
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise at.child(name).error(f"missing required field ({type_name(hints[name])})")
    try:
        return cls(**values)
    except ConfigError as err:
        if err.source is not None:
            raise
        where = at.child(err.field) if err.field else at
        raise where.error(err.message) from err
    except ValueError as err:
        raise at.error(f"invalid {cls.__name__}: {err}") from err


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The top-level mapping of YAML file ``path``; ConfigError (file, line) on a missing file or bad YAML."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("config file not found", source=path)
    try:
        data = yaml.load(path.read_bytes().decode("utf-8"), Loader=_Loader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        message = f"YAML syntax error: {err.problem or err.context}"
        raise ConfigError(message, source=path, field=where) from err
    except yaml.YAMLError as err:
        raise ConfigError(f"YAML error: {err}", source=path) from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"not a UTF-8 text file (binary data at byte {err.start})", source=path) from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping at the top level, got {_got(data)}", source=path)
    return data


def load_config(path: str | Path, cls: type[ConfigT]) -> ConfigT:
    """Read YAML ``path`` into dataclass ``cls``; raises ConfigError naming the file and the key."""
    return _build(cls, read_yaml(path), _At(str(path)))


def config_from_dict(data: Mapping[str, Any], cls: type[ConfigT], source: str = "<dict>") -> ConfigT:
    """Build dataclass ``cls`` from plain data (e.g. a checkpoint's stored config), checked as a file."""
    return _build(cls, data, _At(source))


def dump_config(cfg: Any) -> dict[str, Any]:
    """Plain data (dict, list, str, int, float, bool, None) of a config dataclass; inverse of loading."""
    if not (dataclasses.is_dataclass(cfg) and not isinstance(cfg, type)):
        raise TypeError(f"dump_config expects a dataclass instance, got {type(cfg).__name__}")
    return _dump(cfg)


def _dump(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: _dump(getattr(value, name)) for name in _init_fields(type(value))}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_dump(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _dump(item) for key, item in value.items()}
    return value


def _yaml_text(data: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(data), sort_keys=False, default_flow_style=None)


def save_config(cfg: Any, path: str | Path) -> None:
    """Write ``dump_config(cfg)`` as YAML, atomically (temporary file + rename)."""
    atomic_write_bytes(path, _yaml_text(dump_config(cfg)).encode("utf-8"))


def _leaf_type(cls: type, parts: Sequence[str]) -> Any:
    """Annotation at dotted path ``parts`` under dataclass ``cls``, or None when the path is unknown."""
    tp: Any = cls
    for part in parts:
        options = [arg for arg in get_args(tp) if arg is not type(None)] if get_origin(tp) in (
            Union, types.UnionType) else [tp]
        if len(options) != 1:
            return None
        tp = options[0]
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            hints = get_type_hints(tp)
            if part not in hints:
                return None
            tp = hints[part]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1] if get_args(tp) else Any
        else:
            return None
    return tp


def _wants_text(tp: Any) -> bool:
    """True when a field takes text as is (``str``, ``Path``), so ``name=123`` stays ``"123"``."""
    options = get_args(tp) if get_origin(tp) in (Union, types.UnionType) else (tp,)
    return any(option is str or (isinstance(option, type) and issubclass(option, PurePath))
               for option in options)


def _apply(data: dict[str, Any], parts: Sequence[str], value: Any, at: _At) -> None:
    node: Any = data
    for depth, part in enumerate(parts[:-1]):
        if node.get(part) is None:
            node[part] = {}
        node = node[part]
        if not isinstance(node, dict):
            parent = ".".join(parts[:depth + 1])
            raise at.error(f"'{parent}' is not a mapping, cannot set '{'.'.join(parts)}'")
    node[parts[-1]] = value


def override(cfg: ConfigT, assignments: Sequence[str]) -> ConfigT:
    """A copy of ``cfg`` with ``KEY=VALUE`` assignments applied (``train.lr=3e-4``, ``model.dims=[2,4]``).

    Values are parsed as YAML, then typed and checked like the file; text fields (``str``, ``Path``) take
    the text as is. Errors name the assignment and the key.
    """
    cls = type(cfg)
    for assignment in assignments:
        at = _At(f"override {assignment!r}")
        key, sep, text = assignment.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(parts):
            raise at.error("expected KEY=VALUE with a dotted KEY, e.g. train.lr=3e-4")
        if _wants_text(_leaf_type(cls, parts)) and text.strip() not in ("null", "~"):
            value: Any = text
        else:
            try:
                value = yaml.load(text, Loader=_Loader)
            except yaml.YAMLError as err:
                raise at.error(f"cannot parse value {text!r} as YAML: {err}") from err
        data = dump_config(cfg)
        _apply(data, parts, value, at)
        cfg = _build(cls, data, at)
    return cfg


@dataclasses.dataclass(frozen=True)
class Task:
    """A registered task: its name, config dataclass and run function ``run(cfg, ...)``."""

    name: str
    config_cls: type
    run: RunFn


_TASKS: dict[str, Task] = {}


def register_task(name: str) -> Callable[[RunFn], RunFn]:
    """Decorator registering ``run`` as task ``name``; its first parameter's annotation is the config.

    Example::

        @register_task("toy2d")
        def train_toy2d(cfg: Toy2dConfig, *, resume: bool = False) -> None: ...
    """

    def decorator(run: RunFn) -> RunFn:
        parameters = list(inspect.signature(run).parameters)
        config_cls = get_type_hints(run).get(parameters[0]) if parameters else None
        if not (isinstance(config_cls, type) and dataclasses.is_dataclass(config_cls)):
            raise TypeError(f"task {name!r}: the first parameter of {run.__qualname__} must be annotated "
                            "with the task's config dataclass")
        previous = _TASKS.get(name)
        if previous is not None and _qualified(previous.run) != _qualified(run):
            raise ValueError(f"task {name!r} is already registered by {_qualified(previous.run)}")
        _TASKS[name] = Task(name, config_cls, run)
        return run

    return decorator


def _qualified(function: RunFn) -> str:
    return f"{function.__module__}.{function.__qualname__}"


_SAMPLERS: dict[str, SampleFn] = {}


def register_sampler(name: str) -> Callable[[SampleFn], SampleFn]:
    """Decorator registering ``sample(trained, *, num, seed, out, steps, chunk)`` for task ``name``: it draws
    ``num`` samples from a trained checkpoint (:class:`~genforge.core.train.inference.TrainedWeights`)
    into folder ``out`` (streaming ``chunk`` samples at a time) and returns the paths written. ``genforge
    sample`` dispatches on it."""

    def decorator(sample: SampleFn) -> SampleFn:
        previous = _SAMPLERS.get(name)
        if previous is not None and _qualified(previous) != _qualified(sample):
            raise ValueError(f"sampler for task {name!r} is already registered by {_qualified(previous)}")
        _SAMPLERS[name] = sample
        return sample

    return decorator


def task_sampler(name: str, source: str = "<checkpoint>") -> SampleFn:
    """The sampler registered for task ``name``; ConfigError naming ``source`` if there is none."""
    if name not in _SAMPLERS:
        known = ", ".join(sorted(_SAMPLERS)) or "none registered"
        raise ConfigError(f"task {name!r} has no sampler (tasks with one: {known})", source=source, field=TASK_KEY)
    return _SAMPLERS[name]


def registered_tasks() -> dict[str, Task]:
    """Name -> Task of every registered task (a copy)."""
    return dict(_TASKS)


def task_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> tuple[str, Any, RunFn]:
    """``(name, cfg, run)`` from ``{"task": name, **fields}`` (a recipe file's or checkpoint's data)."""
    at = _At(source)
    name = data.get(TASK_KEY)
    known = ", ".join(sorted(_TASKS)) or "none registered"
    if name is None:
        raise at.child(TASK_KEY).error(f"missing required key naming the task (registered: {known})")
    if name not in _TASKS:
        close = difflib.get_close_matches(str(name), list(_TASKS), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"registered: {known}"
        raise at.child(TASK_KEY).error(f"unknown task {name!r}; {hint}")
    task = _TASKS[name]
    cfg = _build(task.config_cls, {key: value for key, value in data.items() if key != TASK_KEY}, at)
    return name, cfg, task.run


def load_task_config(path: str | Path) -> tuple[str, Any, RunFn]:
    """``(name, cfg, run)`` of the recipe at ``path`` (top-level ``task: <name>`` plus its fields)."""
    return task_from_dict(read_yaml(path), str(path))


def dump_task_config(name: str, cfg: Any) -> dict[str, Any]:
    """``{"task": name, **dump_config(cfg)}``: what :func:`task_from_dict` reads back."""
    return {TASK_KEY: name, **dump_config(cfg)}
