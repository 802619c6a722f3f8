"""An OpenAPI description read for the tests: `Spec` follows `$ref` and every form of nullability of
OpenAI's v1 and v2 descriptions, and checks a value against a schema (the subset of OpenAPI the Assistants
schemas use; no JSON Schema library is a dependency).

A plain module, not a test module: the agreement tests (test_openapi*.py) and the emulator's (which checks
what it serves against the v2 description) share it, and each decides for itself how to skip where
../shared is absent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

JSON = dict[str, Any]
REF = "#/components/schemas/"
TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str, "integer": int, "number": (int, float), "boolean": bool, "array": list, "object": dict,
    "null": type(None),
}  # fmt: skip


def read(path: Path) -> Spec:
    """The description in the YAML file `path`."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader reads v2's 3 MB in a second
    return Spec(yaml.load(path.read_text(encoding="utf-8"), Loader=loader))


class Spec:
    """An OpenAPI description: its schemas, read through `$ref` and the forms of nullability."""

    def __init__(self, document: JSON) -> None:
        self.schemas: JSON = document["components"]["schemas"]
        self.paths: JSON = document.get("paths", {})

    def resolve(self, schema: JSON) -> JSON:
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"].removeprefix(REF)]
        return schema

    def unwrap(self, schema: JSON) -> tuple[JSON, bool]:
        """The schema a non-null value follows, and whether null is allowed: `nullable` (beside a `$ref`
        too), `allOf: [X, {nullable: true}]` and `anyOf: [X, {type: null}]`; an `anyOf` of strings, one of
        them an enum (CreateRunRequest.model), is any string."""
        nullable = False
        while True:
            nullable = nullable or bool(schema.get("nullable"))
            parts = [p for p in schema.get("allOf", []) if p.keys() - {"nullable", "description"}]
            alternatives = [p for p in schema.get("anyOf", []) if p.get("type") != "null"]
            if "$ref" in schema:
                schema = self.schemas[schema["$ref"].removeprefix(REF)]
            elif len(parts) == 1:
                nullable = nullable or any(p.get("nullable") for p in schema["allOf"])
                schema = parts[0]
            elif "anyOf" in schema:
                nullable = nullable or len(alternatives) < len(schema["anyOf"])
                if len(alternatives) != 1:
                    strings = all(self.shape(p).get("type") == "string" for p in alternatives)
                    return ({"type": "string"} if strings else schema), nullable
                schema = alternatives[0]
            else:
                return schema, nullable

    def shape(self, schema: JSON) -> JSON:
        return self.unwrap(schema)[0]

    def nullable(self, schema: JSON) -> bool:
        return self.unwrap(schema)[1]

    def alternatives(self, schema: JSON) -> list[JSON]:
        """The shapes a non-null value can take: the `oneOf` alternatives, or the schema itself."""
        schema = self.shape(schema)
        return [self.shape(v) for v in schema["oneOf"]] if "oneOf" in schema else [schema]

    def objects(self, schema: JSON) -> list[JSON]:
        """The alternatives of `schema` that are objects with properties (a union's variants)."""
        return [v for v in self.alternatives(schema) if "properties" in v]

    def items(self, schema: JSON) -> JSON:
        """The (unresolved) items of an array, or of the array alternative of a string-or-array union."""
        arrays = [v for v in self.alternatives(schema) if v.get("type") == "array"]
        shape = self.shape(schema)
        return (shape if shape.get("type") == "array" else arrays[0])["items"]  # type: ignore[no-any-return]

    def errors(self, value: Any, schema: JSON, path: str = "$") -> list[str]:
        """Where `value` breaks `schema`: $ref, every form of nullability, allOf, anyOf, oneOf (exactly
        one), type, enum, required, properties, additionalProperties, items, minItems, maxItems, minimum,
        maximum; formats are not checked. Empty when `value` conforms."""
        if value is None:
            nullable = self.nullable(schema) or self.resolve(schema).get("type") == "null"
            return [] if nullable else [f"{path}: null"]
        schema = self.resolve(schema)
        errors = [error for part in schema.get("allOf", []) for error in self.errors(value, part, path)]
        for union in ("anyOf", "oneOf"):
            if union in schema:
                fits = [self.errors(value, part, path) == [] for part in schema[union]].count(True)
                if fits == 0 or (union == "oneOf" and fits > 1):
                    errors.append(f"{path}: {fits} alternatives of {union} fit")
        return errors + _value_errors(value, schema, path) + self._nested_errors(value, schema, path)

    def _nested_errors(self, value: Any, schema: JSON, path: str) -> list[str]:
        if isinstance(value, list) and "items" in schema:
            return [
                e for n, item in enumerate(value) for e in self.errors(item, schema["items"], f"{path}[{n}]")
            ]
        if not isinstance(value, dict):
            return []
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties", True)
        errors = [f"{path}: missing {name}" for name in schema.get("required", []) if name not in value]
        for name, item in value.items():
            if name in properties:
                errors += self.errors(item, properties[name], f"{path}.{name}")
            elif extra is False:
                errors.append(f"{path}: unexpected {name}")
            elif isinstance(extra, dict):
                errors += self.errors(item, extra, f"{path}.{name}")
        return errors


def _value_errors(value: Any, schema: JSON, path: str) -> list[str]:
    kind, number = schema.get("type"), isinstance(value, int | float) and not isinstance(value, bool)
    if kind is not None and (
        not isinstance(value, TYPES[kind]) or isinstance(value, bool) != (kind == "boolean")
    ):
        return [f"{path}: {value!r} is not of type {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: {value!r} is not one of {schema['enum']}"]
    if number and not schema.get("minimum", value) <= value <= schema.get("maximum", value):
        return [f"{path}: {value!r} is out of range"]
    if isinstance(value, list) and not schema.get("minItems", 0) <= len(value) <= schema.get(
        "maxItems", len(value)
    ):
        return [f"{path}: {len(value)} items"]
    return []
