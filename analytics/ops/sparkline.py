"""Tiny server-side SVG charts: CSP-safe (no script, no style attribute), no JavaScript."""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe


def _scale(values: list[float | None], width: float, height: float, pad: float = 2.0):
    known = [v for v in values if v is not None]
    if not known:
        return []
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    step = width / max(len(values) - 1, 1)
    points = []
    for i, value in enumerate(values):
        if value is None:
            points.append(None)
            continue
        y = height - pad - (value - low) / span * (height - 2 * pad)
        points.append((round(i * step, 1), round(y, 1)))
    return points


def sparkline_svg(
    values: list[float | None], *, label: str, width: int = 240, height: int = 40
) -> SafeString:
    """A line per run of known values (gaps where a sample is missing)."""
    known = [v for v in values if v is not None]
    summary = (
        f"{label}: latest {known[-1]:g}, min {min(known):g}, max {max(known):g}"
        if known
        else f"{label}: no data"
    )
    runs: list[list[tuple[float, float]]] = [[]]
    for point in _scale(values, width, height):
        if point is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(point)
    lines = []
    for run in runs:
        if len(run) == 1:
            x, y = run[0]
            lines.append(f'<circle class="spark-dot" cx="{x}" cy="{y}" r="1.5"/>')
        elif run:
            points = " ".join(f"{x},{y}" for x, y in run)
            lines.append(f'<polyline class="spark-line" points="{points}"/>')
    # Every coordinate is a number formatted above; the label is escaped by format_html.
    return format_html(
        '<svg class="spark" viewBox="0 0 {} {}" width="{}" height="{}" role="img" '
        'aria-label="{}"><title>{}</title>{}</svg>',
        width,
        height,
        width,
        height,
        summary,
        summary,
        mark_safe("".join(lines)),  # noqa: S308
    )


def uptime_bars_svg(
    shares: list[float | None], *, label: str, width: int = 240, height: int = 16
) -> SafeString:
    """One bar per period: ok (all samples up), warn (some down), down (mostly down), none."""
    count = max(len(shares), 1)
    bar = width / count
    rects = []
    for i, share in enumerate(shares):
        if share is None:
            css = "bar-none"
        elif share >= 0.999:
            css = "bar-ok"
        elif share >= 0.5:
            css = "bar-warn"
        else:
            css = "bar-down"
        rects.append(
            f'<rect class="{css}" x="{round(i * bar, 2)}" y="0" '
            f'width="{round(max(bar - 1, 0.5), 2)}" height="{height}"/>'
        )
    return format_html(
        '<svg class="uptime-bars" viewBox="0 0 {} {}" width="{}" height="{}" role="img" '
        'aria-label="{}"><title>{}</title>{}</svg>',
        width,
        height,
        width,
        height,
        label,
        label,
        mark_safe("".join(rects)),  # noqa: S308
    )
