"""The API schema's error answers (settings.REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.permissions import AllowAny

_ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
_VALIDATION_ERROR = {
    "type": "object",
    "description": (
        "What is wrong, by field (the body's or query parameter's name; nested fields are "
        "dotted, list items numbered); `detail` or `non_field_errors` for the whole request."
    ),
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}


class ErrorDocumentingAutoSchema(AutoSchema):
    """drf-spectacular's schema, describing the error answers every operation may give:
    400 where there is input (a body or query parameters): FieldErrors, or what the view
    documents for its own refusals, since the input's fields are checked first; 415 where
    there is a body; 401 and 403 where a user must be signed in, 404 where a path names a
    record, pages are numbered or the view says so (`raises_not_found`: True, or the names
    of the methods that may answer 404), 429 where the view is throttled."""

    def get_operation(
        self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any
    ) -> Any:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return operation
        error = self._component(registry, "ErrorDetail", _ERROR)
        invalid = self._component(registry, "FieldErrors", _VALIDATION_ERROR)
        responses: dict[str, Any] = operation.setdefault("responses", {})
        parameters = operation.get("parameters", [])
        query = [p for p in parameters if p.get("in") == "query"]
        if "requestBody" in operation or query:
            if "400" in responses:
                _or_field_errors(responses["400"], invalid)
            else:
                responses["400"] = _response("The input is invalid.", invalid)
        if "requestBody" in operation:
            responses.setdefault(
                "415", _response("The body's content type is not one the operation reads.", error)
            )
        if not self._anonymous_allowed():
            responses.setdefault(
                "401",
                {
                    **_response("Not signed in (no valid session or token).", error),
                    "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
                },
            )
            responses.setdefault("403", _response("The user may not do this.", error))
        if (
            any(p.get("in") == "path" for p in parameters)
            or any(p.get("name") == "page" for p in query)
            or self._raises_not_found(method)
        ):
            responses.setdefault("404", _response("Not found.", error))
        if self.view.get_throttles():
            responses.setdefault(
                "429",
                {
                    **_response("Too many requests from this token, user or address.", error),
                    "headers": {
                        "Retry-After": {
                            "schema": {"type": "integer"},
                            "description": "Seconds to wait before trying again.",
                        }
                    },
                },
            )
        return operation

    def _raises_not_found(self, method: str) -> bool:
        flag = getattr(self.view, "raises_not_found", False)
        return flag is True or (not isinstance(flag, bool) and method.lower() in flag)

    def _anonymous_allowed(self) -> bool:
        return any(isinstance(p, AllowAny) for p in self.view.get_permissions())

    @staticmethod
    def _component(registry: Any, name: str, schema: dict[str, Any]) -> dict[str, str]:
        component = ResolvedComponent(  # type: ignore[no-untyped-call]
            name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema
        )
        registry.register_on_missing(component)
        ref: dict[str, str] = component.ref
        return ref


def _response(description: str, schema: dict[str, str]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _or_field_errors(declared: dict[str, Any], invalid: dict[str, str]) -> None:
    """Let a view's own 400 answer be FieldErrors too: a body or query parameter that fails
    its serializer is refused by field before the view can refuse it its own way."""
    content = declared.setdefault("content", {}).setdefault("application/json", {})
    schema = content.get("schema")
    if schema is None or schema == invalid:
        content["schema"] = invalid
        return
    content["schema"] = {"anyOf": [schema, invalid]}
    declared["description"] = (
        f"{declared.get('description', '')} Or the input is invalid, by field.".strip()
    )
