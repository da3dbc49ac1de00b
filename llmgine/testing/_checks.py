"""Validators shared by the fault-injection settings: what came, what was expected."""

from __future__ import annotations

import math
from typing import Any

import attrs

from .._exceptions import ConfigurationError

__all__ = ["non_negative", "probability"]


def _number(value: object) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and not math.isnan(value)
    )


def probability(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A rate: a number from 0 to 1."""
    if not (_number(value) and 0.0 <= value <= 1.0):
        raise ConfigurationError(
            f"'{attribute.name}' must be a number between 0 and 1 (got {value!r})"
        )


def non_negative(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A duration or a factor: a number >= 0."""
    if not (_number(value) and value >= 0):
        raise ConfigurationError(
            f"'{attribute.name}' must be a number >= 0 (got {value!r})"
        )
