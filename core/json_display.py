"""Showing stored JSON (raw webhook bodies, payloads) to people, safely.

A signed webhook may nest thousands of levels deep. Parsing and pretty-printing recurse (the
indenting encoder is pure Python, a few frames per level), so a body that the intake accepted
could crash the page meant to show it. `json_pretty` measures the nesting first without
recursing, pretty-prints only what is shallow enough, falls back to the text as received
otherwise, and bounds what it returns either way.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

# Deeper than any payload Meta or MyOperator documents (about 8 levels), far from Python's
# recursion limit wherever the page renders it.
PRETTY_MAX_DEPTH = 64
PRETTY_MAX_CHARS = 200_000

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")


@dataclass(frozen=True)
class PrettyJson:
    text: str
    truncated: bool  # cut at max_chars
    as_received: bool  # not pretty-printed: not JSON, or nested deeper than max_depth
    depth: int


def json_depth(text: str) -> int:
    """The deepest nesting of brackets outside strings, counted without recursion."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def json_pretty(
    text: str, *, max_depth: int = PRETTY_MAX_DEPTH, max_chars: int = PRETTY_MAX_CHARS
) -> PrettyJson:
    """`text` indented when it is JSON nested at most `max_depth` levels, else as received;
    at most `max_chars` characters either way."""
    depth = json_depth(text)
    pretty, as_received = text, True
    if depth <= max_depth:
        try:
            pretty = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
            as_received = False
        except (ValueError, RecursionError):
            pass
    truncated = len(pretty) > max_chars
    return PrettyJson(pretty[:max_chars], truncated, as_received, depth)
