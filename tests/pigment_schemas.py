"""Pigment's published API document as JSON Schema validators, for checking the Import API's
answers. The document is a verbatim copy of `../shared/reference/pigment-external-api-openapi.json`
(tests/reference/); schemas are taken from it with their `$ref`s resolved, never copied by hand.

OpenAPI 3.0's `nullable: true` is no JSON Schema keyword: each such schema is read as "this
schema, or null" before validation.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCUMENT = Path(__file__).parent / "reference" / "pigment-external-api-openapi.json"
_URI = "urn:pigment-external-api"


def _with_nulls(node: Any) -> Any:
    if isinstance(node, list):
        return [_with_nulls(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _with_nulls(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    return loaded


@cache
def _registry() -> Registry:
    resource = Resource(contents=_with_nulls(document()), specification=DRAFT202012)
    return Registry().with_resource(_URI, resource)


def response_schema(path: str, method: str, status: str = "200") -> dict[str, Any]:
    """The JSON schema of the document's `status` answer to `method path`."""
    answer = document()["paths"][path][method]["responses"][status]
    schema: dict[str, Any] = _with_nulls(answer["content"]["application/json"]["schema"])
    return schema


def validate(instance: Any, path: str, method: str = "get", status: str = "200") -> None:
    """Raise jsonschema's ValidationError unless `instance` is what the document promises."""
    schema = _rebased(response_schema(path, method, status))
    validator = Draft202012Validator(
        schema, registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    validator.validate(instance)


def _rebased(node: Any) -> Any:
    """`#/components/...` references pointed at the registered document."""
    if isinstance(node, list):
        return [_rebased(item) for item in node]
    if isinstance(node, dict):
        return {
            key: (_URI + value if key == "$ref" and value.startswith("#") else _rebased(value))
            for key, value in node.items()
        }
    return node
