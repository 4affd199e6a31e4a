"""The API's one JSON parser (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]).

DRF's parser is the stdlib `json`, whose C scanner recurses once per nesting level: a body of
a thousand `[`, sent without logging in, raised RecursionError (a 500). orjson stops at 1,024
levels with a decode error, and no API body needs more than a few levels, so anything nested
deeper than `MAX_DEPTH` is refused before any Python code walks it.
"""

from __future__ import annotations

from typing import Any

import orjson
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser as DrfJSONParser

# The deepest body the API takes is a booking with its return trip: object > object > value.
MAX_DEPTH = 32


class JSONParser(DrfJSONParser):
    """UTF-8 JSON (RFC 8259); NaN and Infinity are refused like DRF's strict mode does."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = stream.read() if stream is not None else b""
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if json_depth_exceeds(data, MAX_DEPTH):
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.")
        return data


def json_depth_exceeds(data: Any, limit: int) -> bool:
    """Whether arrays/objects nest deeper than `limit`; iterative, so it never recurses."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        if not isinstance(value, dict | list):
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
