"""Experiment YAML files: strict reading (unique keys, UTF-8, one-line errors), ``extends:``
chains merged section by section, and ``profiles:`` applied by name."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from raycil.config.errors import nearest
from raycil.config.overrides import apply_overrides, other_dataset
from raycil.schema import ConfigError


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last
    silently: a second ``train:`` section would drop the first)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if isinstance(key, str) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key}' appears twice in one mapping", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _yaml_where(exc: yaml.YAMLError) -> str:
    """`` at line L, column C: what is wrong`` from a PyYAML error (what it knows of it)."""
    mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{where}: {problem}" if problem else where


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A YAML file's top-level mapping; an absent, unreadable, non-UTF-8, malformed or empty file
    is a one-line ConfigError naming it."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ConfigError(f"config file '{path}' does not exist")
    if not p.is_file():
        raise ConfigError(f"'{path}' is not a file; expected a YAML file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML{_yaml_where(exc)}") from None
    if data is None:
        raise ConfigError(f"{path}: the file is empty; it needs at least one section")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return data


def merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` laid over ``base``: sections merge key by key, any other value replaces (and a
    dataset section naming another dataset replaces the whole section)."""
    out = dict(base)
    for key, value in over.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        both = both and not (key == "dataset" and other_dataset(out[key], value.get("name")))
        out[key] = merged(out[key], value) if both else value
    return out


def read_experiment(path: str | os.PathLike[str], seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """An experiment YAML with its ``extends:`` chain resolved: the extended file (a path
    relative to this one) first, this file's sections merged over it, and the two files'
    ``profiles`` merged by name (this file's keys win)."""
    p = Path(path).expanduser().resolve()
    if p in seen:
        raise ConfigError(f"{path}: extends itself (through {' -> '.join(s.name for s in seen)})")
    data = read_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: extends: expected the path of an experiment YAML (got {parent!r})")
    base = read_experiment(p.parent / parent, (*seen, p))
    profiles = {name: {**(base.get("profiles", {}).get(name) or {}), **(over or {})}
                for name, over in (data.get("profiles") or {}).items()}
    return merged(base, {**data, "profiles": {**(base.get("profiles") or {}), **profiles}})


def select_profile(data: dict[str, Any], profile: str | None) -> dict[str, Any]:
    """Pop ``profiles:`` and apply the named one's dotted overrides."""
    profiles = data.pop("profiles", None) or {}
    if not isinstance(profiles, dict):
        raise ConfigError("profiles: must map profile names to {dotted.key: value} overrides")
    if profile is None:
        return data
    if not profiles:
        raise ConfigError(f"--profile: unknown profile '{profile}'; the file has no profiles: section")
    if profile not in profiles:
        raise ConfigError(f"--profile: unknown profile '{profile}'{nearest(profile, list(profiles))}")
    return apply_overrides(data, dict(profiles[profile] or {}))
