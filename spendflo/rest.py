"""The JSON API's shared behaviour: how callers are authenticated, how bodies are parsed and
how errors are answered. Named in settings.REST_FRAMEWORK (the schema's part is
spendflo.schema)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rest_framework import authentication, exceptions, parsers, status, throttling
from rest_framework.exceptions import ErrorDetail, ParseError, Throttled, ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings

from spendflo.middleware import NULL_CHARACTER_MESSAGE

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)

MAX_JSON_DEPTH = 32
SERVER_ERROR_MESSAGE = (
    "Something went wrong on our side; the error is logged. "
    "Try again, or tell your administrator if it persists."
)


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's API tokens ("Authorization: Token <key>"), reading the token, its user and the
    user's organization (every view's tenant scope) in one query rather than two."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        from rest_framework.authtoken.models import Token

        try:
            token = Token.objects.select_related("user__organization").get(key=key)
        except Token.DoesNotExist as exc:
            raise exceptions.AuthenticationFailed("Invalid token.") from exc
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return (token.user, token)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing bodies nested deeper than MAX_JSON_DEPTH and strings with
    null characters (PostgreSQL stores neither in text nor in jsonb), with a 400 that names
    where."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(_too_deep()) from exc
        _check_json(data)
        return data


def _too_deep() -> str:
    return f"JSON parse error - the body is nested more than {MAX_JSON_DEPTH} levels deep."


def _check_json(data: Any) -> None:
    """Walk `data` without recursion: a depth limit, and no null character in any string."""
    stack: list[tuple[Any, str, int]] = [(data, "", 1)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise ValidationError({where or "non_field_errors": [NULL_CHARACTER_MESSAGE]})
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise ParseError(_too_deep())
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str) and "\x00" in key:
                raise ValidationError({where or "non_field_errors": [NULL_CHARACTER_MESSAGE]})
            path = f"{where}.{key}" if where else str(key)
            stack.append((item, path, depth + 1))


class _RatesReadAtRunTime:
    """DRF binds its throttles' rates when rest_framework.throttling is imported; these read
    them from the settings on every request, so a test (or a reload) can change them."""

    scope: str

    def get_rate(self) -> str | None:
        rate: Any = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return None if rate is None else str(rate)


class TokenRateThrottle(_RatesReadAtRunTime, throttling.UserRateThrottle):
    """Signed-in calls, counted per API token (each of a user's tokens has its own budget)
    or, with a session, per user. Anonymous calls are refused (401) before any throttle."""

    scope = "user"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        from rest_framework.authtoken.models import Token

        if not (request.user and request.user.is_authenticated):
            return None
        if isinstance(request.auth, Token):
            ident = f"token-{request.auth.pk}"
        else:
            ident = f"user-{request.user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


def _throttled_sentence(exc: Throttled) -> ErrorDetail:
    wait: float | None = getattr(exc, "wait", None)
    # The same whole seconds as DRF's Retry-After header.
    when = f"Try again in {int(wait)} seconds (see Retry-After)." if wait else "Try again later."
    return ErrorDetail(f"Too many API requests from this token or user. {when}", "throttled")


def field_errors(detail: Any) -> dict[str, Any]:
    """A validation error's detail as the schema's FieldErrors: one list of sentences per
    field, nested fields dotted and list items numbered (`chart_ids.0`, `lines.1.quantity`),
    `non_field_errors` for the whole request, and a `detail` sentence kept a sentence."""
    flat: dict[str, list[str]] = {}
    _flatten(detail, "", flat)
    errors: dict[str, Any] = dict(flat)
    if "detail" in errors:
        errors["detail"] = " ".join(errors["detail"])
    return errors


def _flatten(detail: Any, name: str, into: dict[str, list[str]]) -> None:
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            _flatten(value, f"{name}.{key}" if name else str(key), into)
    elif isinstance(detail, list) and not all(isinstance(item, str) for item in detail):
        # A list of items (a nested serializer with many=True): one entry per item, valid
        # items empty.
        for index, item in enumerate(detail):
            _flatten(item, f"{name}.{index}" if name else str(index), into)
    else:
        sentences = detail if isinstance(detail, list) else [detail]
        into.setdefault(name or api_settings.NON_FIELD_ERRORS_KEY, []).extend(sentences)


def api_exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF's handler, with validation errors by field as the schema documents them
    (`field_errors`), and for an unexpected error a JSON 500 (logged with its traceback) in
    place of Django's HTML page; the request's transaction is rolled back either way."""
    # rest_framework.views reads the API settings (which name this module) when imported.
    from rest_framework.views import exception_handler, set_rollback

    if isinstance(exc, Throttled):
        exc.detail = _throttled_sentence(exc)
    response = exception_handler(exc, dict(context))
    if response is not None:
        if isinstance(exc, ValidationError):
            response.data = field_errors(response.data)
        return response
    view = context.get("view")
    logger.error(
        "Unexpected error in %s", type(view).__name__ if view else "API view", exc_info=exc
    )
    set_rollback()
    return Response({"detail": SERVER_ERROR_MESSAGE}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
