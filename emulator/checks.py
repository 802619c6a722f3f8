"""The building blocks of request validation: each checks one JSON value against one rule of the OpenAPI
description and refuses it with OpenAI's 400 body (`invalid_request_error`, the dotted `param`, and the
platform's codes: `invalid_type`, `invalid_value`, `missing_required_parameter`, `unknown_parameter`,
`empty_array`, `array_above_max_length`, `integer_below_min_value`, `decimal_above_max_value`...).

`where` is always the parameter's path as OpenAI writes it (`additional_messages[0].content[1].text`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from typing import Any

from emulator.model import JSON, ApiError

NAME = re.compile(r"^[a-zA-Z0-9_-]+$")


def refuse(where: str, message: str, code: str | None) -> ApiError:
    """A 400 about the parameter at `where`."""
    return ApiError(400, message, param=where, code=code)


def kind(value: Any) -> str:
    """The JSON type of `value` as OpenAI's messages name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def wrong_type(where: str, expected: str, value: Any) -> ApiError:
    return refuse(
        where,
        f"Invalid type for '{where}': expected {expected}, but got {kind(value)} instead.",
        "invalid_type",
    )


def only(body: JSON, allowed: Collection[str], where: str = "") -> None:
    """Refuse a key the schema does not have (`additionalProperties: false`)."""
    for name in body:
        if name not in allowed:
            if not where:  # the top level of a request body, in the Assistants API's words
                raise refuse(name, f"Unrecognized request argument supplied: {name}", None)
            raise refuse(f"{where}.{name}", f"Unknown parameter: '{where}.{name}'.", "unknown_parameter")


def required(obj: JSON, name: str, where: str) -> Any:
    """`obj[name]`, refused when absent or null."""
    path = f"{where}.{name}" if where else name
    if obj.get(name) is None:
        raise refuse(path, f"Missing required parameter: '{path}'.", "missing_required_parameter")
    return obj[name]


def an_object(value: Any, where: str, expected: str = "an object") -> JSON:
    if not isinstance(value, dict):
        raise wrong_type(where, expected, value)
    return value


def an_array(value: Any, where: str, *, min_items: int = 0, max_items: int | None = None) -> list[Any]:
    if not isinstance(value, list):
        raise wrong_type(where, "an array", value)
    if len(value) < min_items:
        raise refuse(
            where,
            f"Invalid '{where}': empty array. Expected an array with minimum length {min_items}, but got an "
            "empty array instead.",
            "empty_array",
        )
    if max_items is not None and len(value) > max_items:
        raise refuse(
            where,
            f"Invalid '{where}': array too long. Expected an array with maximum length {max_items}, but got "
            f"an array with length {len(value)} instead.",
            "array_above_max_length",
        )
    return value


def a_string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise wrong_type(where, "a string", value)
    return value


def a_name(value: Any, where: str) -> str:
    """A function's or a JSON schema's name: letters, digits, `_` and `-`, at most 64 of them."""
    name = a_string(value, where)
    if len(name) > 64:
        raise refuse(
            where,
            f"Invalid '{where}': string too long. Expected a string with maximum length 64, but got a string "
            f"with length {len(name)} instead.",
            "string_above_max_length",
        )
    if not NAME.fullmatch(name):
        raise refuse(
            where,
            f"Invalid '{where}': string does not match pattern. Expected a string that matches the pattern "
            f"'{NAME.pattern}'.",
            "invalid_value",
        )
    return name


def a_boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise wrong_type(where, "a boolean", value)
    return value


def one_of(value: Any, allowed: Iterable[str], where: str) -> str:
    """A string of an enum; OpenAI lists the supported values when it refuses one."""
    options = list(allowed)
    if not isinstance(value, str):
        raise wrong_type(where, "one of " + _listed(options), value)
    if value not in options:
        raise refuse(
            where, f"Invalid value: '{value}'. Supported values are: {_listed(options)}.", "invalid_value"
        )
    return value


def a_number(value: Any, where: str, lo: float, hi: float) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise wrong_type(where, "a decimal", value)
    _within(value, where, "decimal", lo, hi)
    return value


def an_integer(value: Any, where: str, lo: int, hi: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise wrong_type(where, "an integer", value)
    _within(value, where, "integer", lo, hi)
    return value


def _within(value: float, where: str, name: str, lo: float, hi: float | None) -> None:
    if value < lo:
        raise _beyond(where, f"{name} below minimum", f">= {lo}", value, f"{name}_below_min_value")
    if hi is not None and value > hi:
        raise _beyond(where, f"{name} above maximum", f"<= {hi}", value, f"{name}_above_max_value")


def _beyond(where: str, what: str, expected: str, value: float, code: str) -> ApiError:
    message = f"Invalid '{where}': {what} value. Expected a value {expected}, but got {value} instead."
    return refuse(where, message, code)


def _listed(options: list[str]) -> str:
    quoted = [f"'{option}'" for option in options]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])}, and {quoted[-1]}"
