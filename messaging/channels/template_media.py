"""Where a template's media header example comes from: an extension point, filled at ready().

Meta wants the example of an IMAGE, VIDEO or DOCUMENT header as a resumable-upload handle,
and a handle serves one submission. The media library (a room above channels) can make one
from a library file, so the builder lets staff pick a file instead of pasting a handle. The
draft keeps a reference, `"example": {"header_asset": [<library file id>]}`; just before the
provider call (`authoring.template_submit`, an edit at the provider) `components_resolved`
swaps it for a fresh `header_handle`, so the provider only ever sees Meta's fields.

Channels cannot import the library, so the library registers a source here (in
`MessagingConfig.ready()`). With none registered, a pasted handle still works and a
`header_asset` is refused with a clear message.
"""

from __future__ import annotations

import copy
from typing import Any, Protocol

from core.errors import DomainError
from messaging.providers.template_rules import MEDIA_HEADER_FORMATS, RuleError

FIELD = "header.example"


class HeaderAssetError(DomainError):
    """The library file chosen as a header example cannot serve (gone, of another kind)."""

    code = "header_example_unavailable"
    status_code = 400


class HeaderExampleSource(Protocol):
    def choices(self, header_format: str) -> list[tuple[int, str]]:
        """(id, name) of the files a `header_format` header may show, newest first."""

    def problem(self, asset_id: int, header_format: str) -> str | None:
        """Why file `asset_id` cannot be the example of a `header_format` header, or None."""

    def resolve(self, asset_id: int, header_format: str, channel: Any) -> str:
        """A fresh upload handle for file `asset_id`, made through `channel`'s provider.
        Raises HeaderAssetError for an unusable file and the provider's errors."""


_sources: list[HeaderExampleSource] = []


def header_example_source_register(source: HeaderExampleSource) -> None:
    """Set the source once (ready() may run again in tests that reload apps)."""
    if source not in _sources:
        _sources.append(source)


def header_example_source() -> HeaderExampleSource | None:
    return _sources[-1] if _sources else None


def _media_header(components: Any) -> dict | None:
    for component in components if isinstance(components, list) else ():
        if (
            isinstance(component, dict)
            and str(component.get("type", "")).upper() == "HEADER"
            and str(component.get("format", "")).upper() in MEDIA_HEADER_FORMATS
        ):
            return component
    return None


def header_asset_of(components: Any) -> Any:
    """The raw `header_asset` reference of `components`' media header, or None."""
    header = _media_header(components)
    example = header.get("example") if header else None
    return example.get("header_asset") if isinstance(example, dict) else None


def _asset_id(value: Any) -> int | None:
    if (
        isinstance(value, list)
        and len(value) == 1
        and isinstance(value[0], int)
        and not isinstance(value[0], bool)
    ):
        return value[0]
    return None


def header_asset_problems(components: Any) -> list[RuleError]:
    """What is wrong with the `header_asset` reference in `components` (none if unused)."""
    reference = header_asset_of(components)
    if reference is None:
        return []
    header = _media_header(components) or {}
    header_format = str(header.get("format", "")).upper()
    if header["example"].get("header_handle"):
        return [RuleError(FIELD, "Give either a library file (header_asset) or a handle.")]
    asset_id = _asset_id(reference)
    if asset_id is None:
        return [RuleError(FIELD, "header_asset is a list of one library file id, e.g. [12].")]
    source = header_example_source()
    if source is None:
        return [RuleError(FIELD, "There is no media library to take header files from.")]
    problem = source.problem(asset_id, header_format)
    return [RuleError(FIELD, problem)] if problem else []


def components_for_rules(components: Any) -> Any:
    """`components` as Meta's rules see them once resolved: a `header_asset` reference stands
    for the handle it will become (its own checks are `header_asset_problems`)."""
    if header_asset_of(components) is None:
        return components
    checked = copy.deepcopy(components)
    example = _media_header(checked)["example"]
    reference = example.pop("header_asset")
    example.setdefault("header_handle", [f"library:{reference}"])
    return checked


def components_resolved(components: Any, channel: Any) -> Any:
    """`components` with a `header_asset` reference swapped for a fresh upload handle, made
    through `channel`'s provider; unchanged when there is none. Raises HeaderAssetError and
    the provider's errors."""
    reference = header_asset_of(components)
    if reference is None:
        return components
    problems = header_asset_problems(components)
    if problems:
        raise HeaderAssetError(problems[0].message, details={FIELD: [problems[0].message]})
    source = header_example_source()
    assert source is not None  # header_asset_problems names a missing source
    resolved = copy.deepcopy(components)
    header = _media_header(resolved)
    handle = source.resolve(_asset_id(reference), str(header["format"]).upper(), channel)
    header["example"] = {"header_handle": [handle]}
    return resolved
