"""The API's JSON parser: hostile bodies get a clear 4xx before any view work, never a 500.

DRF's own JSONParser lets a deeply nested body escape as RecursionError (an HTTP 500, reachable without
signing in through the token endpoint) and reads a body of any size. This one reads at most
DATA_UPLOAD_MAX_MEMORY_SIZE bytes, decodes strict UTF-8, refuses NaN/Infinity and nesting deeper than
MAX_JSON_DEPTH and lone surrogates in strings, and answers each with a message a client developer can act on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser
from typing_extensions import override

# No request body of this API nests deeper than a few levels; 32 leaves room for any future one.
MAX_JSON_DEPTH = 32


class RequestBodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request is too large.")
    default_code = "too_large"


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed in JSON")


def json_problem(value: object, limit: int) -> str | None:
    """Why a parsed body is refused: containers nested deeper than `limit`, or a string (key or value)
    holding a lone surrogate ("\\ud800" is valid JSON but no text: it cannot be stored). Iterative."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return str(_("The JSON body holds text that is not valid Unicode."))
        elif isinstance(item, Mapping | list):
            if depth > limit:
                return str(_("The JSON body is nested too deeply."))
            if isinstance(item, Mapping):
                stack.extend((key, depth) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)
    return None


class SafeJSONParser(JSONParser):
    @override
    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise RequestBodyTooLarge()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError(_("The request body is not valid UTF-8.")) from None
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except RecursionError:
            raise ParseError(_("The JSON body is nested too deeply.")) from None
        except ValueError:
            raise ParseError(_("The request body is not valid JSON.")) from None
        problem = json_problem(data, MAX_JSON_DEPTH)
        if problem is not None:
            raise ParseError(problem)
        return data
