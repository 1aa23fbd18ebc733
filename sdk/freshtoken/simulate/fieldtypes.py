"""Type checks for the scenario's fields, which may come from a JSON file (``freshtoken simulate --scenario``):
a field of the wrong type is named (``hosts must be an integer, not str``) before any value is compared, and a
number must be finite (an infinite duration would never end)."""

from __future__ import annotations

import math
from typing import Any


def _number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def wrong_types(obj: Any, *, ints: tuple[str, ...] = (), numbers: tuple[str, ...] = (),
                optional_numbers: tuple[str, ...] = (), bools: tuple[str, ...] = (),
                strings: tuple[str, ...] = ()) -> list[str]:
    """What is wrong with the types of ``obj``'s fields, one phrase per field (empty: nothing)."""
    problems = []
    for name in ints:
        value = getattr(obj, name)
        if type(value) is not int:
            problems.append(f"{name} must be an integer, not {type(value).__name__}")
    for name in numbers + optional_numbers:
        value = getattr(obj, name)
        if value is None and name in optional_numbers:
            continue
        if not _number(value):
            what = "a finite number" if type(value) is float else f"a number, not {type(value).__name__}"
            problems.append(f"{name} must be {what}")
    for name in bools:
        value = getattr(obj, name)
        if type(value) is not bool:
            problems.append(f"{name} must be true or false, not {type(value).__name__}")
    for name in strings:
        value = getattr(obj, name)
        if type(value) is not str:
            problems.append(f"{name} must be a string, not {type(value).__name__}")
    return problems


def pairs_of_numbers(value: Any) -> bool:
    """A list of (start, end) pairs of finite numbers."""
    return isinstance(value, list | tuple) and all(
        isinstance(p, list | tuple) and len(p) == 2 and all(_number(x) for x in p) for p in value)
