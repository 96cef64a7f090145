"""Charts drawn as SVG on the server: bars, stacked bars, horizontal bars, lines with a band.

Written here rather than taken from a charting library because the portal's rules rule the
usual ones out: no JavaScript, no external asset, and a Content-Security-Policy without
inline styles, so colours must come from classes of ``sentier.css`` (``s0``..``s7`` for
series), not from ``style`` attributes or an embedded ``<style>`` as SVG libraries write them.
Every chart is an ``<svg role="img">`` with a title and a description, each mark has its own
``<title>`` (a tooltip and a label for screen readers), and the pages put a table of the same
numbers beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from html import escape

from markupsafe import Markup

Number = Decimal | float | int
SERIES = 8  # colour classes s0..s7 in sentier.css


def money(value: Number | None, unit: str = "") -> str:
    """``1234.5`` -> ``1,234.50 EUR``."""
    if value is None:
        return ""
    text = f"{float(value):,.2f}"
    return f"{text} {unit}".strip()


def compact(value: float) -> str:
    """Axis labels: ``65318`` -> ``65k``, ``1250000`` -> ``1.25M``."""
    size = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}" if size else "0"


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round axis ticks covering ``low``..``high`` (steps of 1, 2, 2.5 or 5 x 10^k)."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value < high + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _ids(ident: str) -> tuple[str, str]:
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in ident)
    return f"{safe}-title", f"{safe}-desc"


def _open(ident: str, width: int, height: int, title: str, description: str, css: str) -> str:
    title_id, desc_id = _ids(ident)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg {css}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{title_id} {desc_id}" preserveAspectRatio="xMinYMin meet">'
        f'<title id="{title_id}">{escape(title)}</title>'
        f'<desc id="{desc_id}">{escape(description)}</desc>'
    )


def _legend(names: Sequence[str]) -> str:
    if len(names) < 2:
        return ""
    items = "".join(
        f'<li><span class="swatch s{i % SERIES}" aria-hidden="true"></span>{escape(n)}</li>'
        for i, n in enumerate(names)
    )
    return f'<ul class="chart-legend">{items}</ul>'


def _figure(svg: str, legend: str = "") -> Markup:
    return Markup(f'<figure class="chart">{svg}{legend}</figure>')


def _y_axis(
    ticks: list[float], scale: float, base_y: float, left: int, right: int, low: float
) -> str:
    parts = []
    for tick in ticks:
        y = base_y - (tick - low) * scale
        parts.append(
            f'<line class="grid" x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(compact(tick))}</text>"
        )
    return "".join(parts)


def stacked_bars(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[Number]]],
    *,
    ident: str,
    title: str,
    description: str,
    unit: str = "",
    width: int = 720,
    height: int = 240,
) -> Markup:
    """One bar per category (e.g. month), stacked by series (e.g. owner); one series is a
    plain bar chart. Negative amounts (credits) are drawn from zero downwards."""
    if not categories:
        return Markup("")
    left, right, top, bottom = 56, width - 8, 10, height - 26
    tops = [sum(max(float(s[1][i]), 0) for s in series) for i in range(len(categories))]
    lows = [sum(min(float(s[1][i]), 0) for s in series) for i in range(len(categories))]
    ticks = nice_ticks(min(0.0, *lows), max(0.0, *tops))
    low, high = ticks[0], ticks[-1]
    scale = (bottom - top) / (high - low)
    slot = (right - left) / len(categories)
    bar = min(slot * 0.64, 64)
    parts = [_open(ident, width, height, title, description, "bars")]
    parts.append(_y_axis(ticks, scale, bottom, left, right, low))
    zero = bottom - (0 - low) * scale
    for i, category in enumerate(categories):
        x = left + slot * i + (slot - bar) / 2
        up, down = zero, zero
        total = sum(float(s[1][i]) for s in series)
        for index, (name, values) in enumerate(series):
            value = float(values[i])
            if value == 0:
                continue
            size = abs(value) * scale
            if value > 0:
                up -= size
                y = up
            else:
                y = down
                down += size
            label = f"{category}: {name + ': ' if len(series) > 1 else ''}{money(value, unit)}"
            parts.append(
                f'<rect class="s{index % SERIES}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                f'height="{max(size, 0.5):.1f}"><title>{escape(label)}</title></rect>'
            )
        parts.append(
            f'<text class="tick" x="{x + bar / 2:.1f}" y="{bottom + 16}" text-anchor="middle">'
            f"{escape(category)}<title>{escape(category)}: {escape(money(total, unit))}"
            "</title></text>"
        )
    parts.append(f'<line class="axis" x1="{left}" x2="{right}" y1="{zero:.1f}" y2="{zero:.1f}"/>')
    parts.append("</svg>")
    return _figure("".join(parts), _legend([name for name, _ in series]))


def hbars(
    items: Sequence[tuple[str, Number, str | None]],
    *,
    ident: str,
    title: str,
    description: str,
    unit: str = "",
    width: int = 560,
) -> Markup:
    """Horizontal bars, biggest first: (label, value, link or None) each."""
    if not items:
        return Markup("")
    row, label_w, value_w = 26, 210, 100
    height = row * len(items) + 8
    biggest = max(max(float(v) for _, v, _ in items), 1e-9)
    span = width - label_w - value_w - 8
    parts = [_open(ident, width, height, title, description, "hbars")]
    for i, (label, value, href) in enumerate(items):
        y = 4 + i * row
        size = max(float(value), 0) / biggest * span
        short = label if len(label) <= 28 else label[:27] + "…"
        text = (
            f'<text class="label" x="{label_w - 8}" y="{y + 16}" text-anchor="end">'
            f"{escape(short)}</text>"
        )
        if href:
            text = f'<a href="{escape(href)}">{text}</a>'
        parts.append(
            f"<g><title>{escape(label)}: {escape(money(value, unit))}</title>{text}"
            f'<rect class="s0" x="{label_w}" y="{y + 4}" '
            f'width="{max(size, 0.5):.1f}" height="{row - 10}" rx="3"/>'
            f'<text class="tick" x="{label_w + size + 6:.1f}" y="{y + 16}">'
            f"{escape(money(value))}</text></g>"
        )
    parts.append("</svg>")
    return _figure("".join(parts))


def forecast_lines(
    categories: Sequence[str],
    actual: Sequence[Number | None],
    forecast: Sequence[tuple[Number, Number, Number] | None],
    *,
    ident: str,
    title: str,
    description: str,
    unit: str = "",
    width: int = 720,
    height: int = 240,
) -> Markup:
    """Actual amounts as a solid line, the forecast (median) dashed, its interval as a band."""
    if not categories:
        return Markup("")
    left, right, top, bottom = 56, width - 16, 10, height - 26
    values = [float(v) for v in actual if v is not None]
    values += [float(x) for f in forecast if f is not None for x in f]
    ticks = nice_ticks(min(0.0, *values), max(0.0, *values))
    low, high = ticks[0], ticks[-1]
    scale = (bottom - top) / (high - low)
    step = (right - left) / max(len(categories) - 1, 1)

    def point(i: int, v: Number) -> tuple[float, float]:
        return left + step * i, bottom - (float(v) - low) * scale

    parts = [_open(ident, width, height, title, description, "lines")]
    parts.append(_y_axis(ticks, scale, bottom, left, right, low))
    band = [(i, f) for i, f in enumerate(forecast) if f is not None]
    if band:
        upper = [point(i, f[2]) for i, f in band]
        lower = [point(i, f[1]) for i, f in reversed(band)]
        outline = " ".join(f"{x:.1f},{y:.1f}" for x, y in upper + lower)
        parts.append(f'<polygon class="band" points="{outline}"/>')
        median = [point(i, f[0]) for i, f in band]
        # Join the forecast to the last actual point so the line reads as a continuation.
        last = max((i for i, v in enumerate(actual) if v is not None), default=None)
        if last is not None and last < band[0][0]:
            value = actual[last]
            assert value is not None
            median.insert(0, point(last, value))
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in median)
        parts.append(f'<polyline class="line forecast" points="{path}"/>')
    solid = [point(i, v) for i, v in enumerate(actual) if v is not None]
    if solid:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in solid)
        parts.append(f'<polyline class="line actual" points="{path}"/>')
    for i, category in enumerate(categories):
        x = left + step * i
        value = actual[i]
        predicted = forecast[i]
        if value is not None:
            px, py = point(i, value)
            parts.append(
                f'<circle class="dot actual" cx="{px:.1f}" cy="{py:.1f}" r="3.5">'
                f"<title>{escape(category)}: {escape(money(value, unit))}</title></circle>"
            )
        if predicted is not None:
            px, py = point(i, predicted[0])
            text = (
                f"{category}: forecast {money(predicted[0], unit)} "
                f"({money(predicted[1])} to {money(predicted[2])})"
            )
            parts.append(
                f'<circle class="dot forecast" cx="{px:.1f}" cy="{py:.1f}" r="3.5">'
                f"<title>{escape(text)}</title></circle>"
            )
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">'
            f"{escape(category)}</text>"
        )
    parts.append(f'<line class="axis" x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}"/>')
    parts.append("</svg>")
    legend = (
        '<ul class="chart-legend"><li><span class="swatch actual" aria-hidden="true"></span>'
        'actual</li><li><span class="swatch forecast" aria-hidden="true"></span>forecast '
        '(median)</li><li><span class="swatch band" aria-hidden="true"></span>interval</li></ul>'
    )
    return _figure("".join(parts), legend if band else "")


def meter(used: float, forecast: float | None, thresholds: Sequence[int], state: str) -> Markup:
    """A budget gauge: spend so far, the forecast month-end as a mark, threshold ticks."""
    width, height = 180, 14
    full = max(100.0, used, forecast or 0.0, *[float(t) for t in thresholds]) * 1.05

    def x(percent: float) -> float:
        return max(0.0, min(percent, full)) / full * width

    description = f"{used:.0f} % of the budget spent"
    if forecast is not None:
        description += f"; forecast month-end {forecast:.0f} %"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="meter" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(description)}">',
        f"<title>{escape(description)}</title>",
        f'<rect class="track" x="0" y="2" width="{width}" height="{height - 4}" rx="4"/>',
        f'<rect class="fill {escape(state)}" x="0" y="2" width="{x(used):.1f}" '
        f'height="{height - 4}" rx="4"/>',
    ]
    for threshold in thresholds:
        parts.append(
            f'<line class="threshold" x1="{x(threshold):.1f}" x2="{x(threshold):.1f}" '
            f'y1="0" y2="{height}"/>'
        )
    if forecast is not None and forecast > used:
        parts.append(
            f'<line class="forecast-mark" x1="{x(forecast):.1f}" x2="{x(forecast):.1f}" '
            f'y1="1" y2="{height - 1}"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
