"""Dotted overrides (``--set train.epochs=3``, profiles): parsing their values and setting them
inside nested sections."""

from __future__ import annotations

from typing import Any

import yaml

from raycil.schema import ConfigError


def parse_value(text: str) -> Any:
    """A ``--set`` value: YAML scalar/list syntax (``3``, ``0.1``, ``true``, ``[1,2]``, ``null``)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set value {text!r} is not valid YAML: {exc.problem}") from None


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c = value`` inside nested dicts, creating levels as needed."""
    parts = dotted.split(".")
    if not all(parts):
        raise ConfigError(f"--set key {dotted!r} is not a dotted path like train.epochs")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"{dotted}: '{part}' is a value, not a section")
        node = child
    node[parts[-1]] = value


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``["train.epochs=3", ...]`` to ``{"train.epochs": 3}``; a missing '=' is a ConfigError."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. train.epochs=3")
        key, _, text = item.partition("=")
        out[key.strip()] = parse_value(text)
    return out


def other_dataset(section: Any, name: Any) -> bool:
    """``name`` names another dataset than ``section`` (a dataset section) does."""
    return isinstance(section, dict) and name is not None and section.get("name", "synthetic") != name


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Dotted overrides; ``dataset.name`` naming another dataset starts the section afresh, so
    the generated data's knobs (num_classes, image_size, ...) do not carry over to a tree."""
    if other_dataset(data.get("dataset"), overrides.get("dataset.name")):
        data["dataset"] = {}
    for key, value in overrides.items():
        set_dotted(data, key, value)
    return data
