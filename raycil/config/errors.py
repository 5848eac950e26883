"""Pydantic's validation errors as the one line a user reads: ``field.path: what is wrong; what
is allowed`` (with the nearest allowed key for a misspelt one)."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError


def nearest(key: str, allowed: list[str]) -> str:
    """`` (did you mean 'x'?); allowed: a, b, ...`` for an unknown ``key``."""
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.5)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"{hint}; allowed: {', '.join(sorted(allowed))}"


def model_at(loc: tuple[Any, ...], root: type[BaseModel]) -> type[BaseModel] | None:
    """The section model at the dotted location ``loc`` under ``root`` (None: not a section)."""
    model: Any = root
    for part in loc:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        model = field.annotation
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def format_validation_error(err: ValidationError, root: type[BaseModel]) -> str:
    """The first pydantic error as one line: ``field.path: what is wrong; what is allowed``."""
    e = err.errors()[0]
    loc = tuple(p for p in e["loc"] if p not in ("__root__",))
    field = ".".join(str(p) for p in loc)
    kind = e["type"]
    if kind == "extra_forbidden":
        parent = model_at(loc[:-1], root)
        allowed = list(parent.model_fields) if parent else []
        return f"{field}: unknown key{nearest(str(loc[-1]), allowed)}"
    if kind == "literal_error":
        return f"{field}: {e['input']!r} is not allowed; {e['msg'].lower()}"
    if kind == "value_error":
        msg = str(e.get("ctx", {}).get("error", e["msg"]))
        named = not field or msg.startswith((f"{field}.", f"{field}:"))  # the message names its field
        return msg if named else f"{field}: {msg}"
    return f"{field}: {e['msg'].lower()} (got {e['input']!r})"
