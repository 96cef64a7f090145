"""Server-drawn SVG charts: right proportions, accessible, escaped, no inline style."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal

from sentier.web import charts

SVG = "{http://www.w3.org/2000/svg}"


def _svg(markup: str) -> ET.Element:
    match = re.search(r"<svg.*</svg>", str(markup), re.S)
    assert match, markup
    return ET.fromstring(match.group(0))


def test_nice_ticks_cover_the_range_with_round_steps() -> None:
    assert charts.nice_ticks(0, 81_000) == [0, 25_000, 50_000, 75_000, 100_000]
    assert charts.nice_ticks(0, 7.3) == [0, 2, 4, 6, 8]
    ticks = charts.nice_ticks(-120, 300)
    assert ticks[0] <= -120 and ticks[-1] >= 300 and 0 in ticks


def test_stacked_bars_heights_add_up_and_every_mark_is_labelled() -> None:
    markup = charts.stacked_bars(
        ["May", "Jun"],
        [("team-a", [Decimal(30), Decimal(60)]), ("team-b", [Decimal(10), Decimal(20)])],
        ident="spend",
        title="Spend",
        description="May: 40; Jun: 80",
        unit="EUR",
    )
    svg = _svg(markup)
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "spend-title spend-desc"
    assert svg.find(f"{SVG}title").text == "Spend"  # type: ignore[union-attr]
    bars = svg.findall(f"{SVG}rect")
    heights = [float(b.get("height", 0)) for b in bars]
    # June's stack is twice May's, and team-a three times team-b in each month.
    assert abs((heights[2] + heights[3]) / (heights[0] + heights[1]) - 2) < 0.01
    assert abs(heights[0] / heights[1] - 3) < 0.01
    labels = [b.find(f"{SVG}title").text for b in bars]  # type: ignore[union-attr]
    assert labels[0] == "May: team-a: 30.00 EUR"
    assert 'class="swatch s1"' in markup and "team-b" in markup  # the legend
    assert "style=" not in markup


def test_negative_amounts_hang_below_the_axis() -> None:
    svg = _svg(
        charts.stacked_bars(
            ["Sep"],
            [("credits", [Decimal(-50)]), ("usage", [Decimal(100)])],
            ident="c",
            title="t",
            description="d",
        )
    )
    axis = next(line for line in svg.iter(f"{SVG}line") if line.get("class") == "axis")
    zero = float(axis.get("y1", 0))
    credit, usage = svg.findall(f"{SVG}rect")
    assert float(credit.get("y", 0)) == zero  # starts at zero, goes down
    assert float(usage.get("y", 0)) + float(usage.get("height", 0)) == zero


def test_labels_are_escaped_and_links_kept() -> None:
    markup = str(
        charts.hbars(
            [("<script>x</script>", Decimal(5), "/finops/groups/default/a"), ("b", 10, None)],
            ident="top",
            title="Top & co",
            description="d",
        )
    )
    assert "<script>" not in markup and "&lt;script&gt;" in markup
    assert 'href="/finops/groups/default/a"' in markup and "Top &amp; co" in markup
    svg = _svg(markup)
    first, second = (float(r.get("width", 0)) for r in svg.iter(f"{SVG}rect"))
    assert abs(second / first - 2) < 0.01


def test_forecast_band_spans_low_to_high_and_joins_the_last_actual() -> None:
    svg = _svg(
        charts.forecast_lines(
            ["Sep", "Oct", "Nov"],
            [Decimal(100), None, None],
            [
                None,
                (Decimal(110), Decimal(90), Decimal(130)),
                (Decimal(120), Decimal(95), Decimal(150)),
            ],
            ident="f",
            title="Forecast",
            description="d",
        )
    )
    band = next(svg.iter(f"{SVG}polygon"))
    assert len(band.get("points", "").split()) == 4
    dashed = next(p for p in svg.iter(f"{SVG}polyline") if "forecast" in p.get("class", ""))
    assert len(dashed.get("points", "").split()) == 3  # from September's actual onwards
    titles = [t.text for t in svg.iter(f"{SVG}title")]
    assert "Oct: forecast 110.00 (90.00 to 130.00)" in titles


def test_budget_meter_says_what_it_shows() -> None:
    markup = str(charts.meter(75.0, 110.0, [50, 80, 100], "at-risk"))
    assert 'aria-label="75 % of the budget spent; forecast month-end 110 %"' in markup
    assert 'class="fill at-risk"' in markup and markup.count('class="threshold"') == 3
