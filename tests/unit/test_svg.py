"""The report's SVG charts: well-formed, accessible, every point and bar with a tooltip, ticks that
cover the data, and no crash on the awkward inputs (empty, NaN, one point, text x values)."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest

from pypersonalize import svg
from pypersonalize.svg import Series

NS = {"s": "http://www.w3.org/2000/svg"}


def parse(text: str) -> ET.Element:
    root = ET.fromstring(text)                       # raises on anything not well-formed
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def tooltips(root: ET.Element, shape: str) -> list[str]:
    return [el.find("s:title", NS).text for el in root.iter(f"{{{NS['s']}}}{shape}")
            if el.find("s:title", NS) is not None]


def texts(root: ET.Element) -> list[str]:
    return [el.text for el in root.iter(f"{{{NS['s']}}}text") if el.text]


def test_the_chart_is_named_for_screen_readers():
    root = parse(svg.bar_chart(["a"], [Series("s", [], [1.0])], title="Hits <by> day", desc="One bar."))
    assert root.get("role") == "img"
    title_id, desc_id = root.get("aria-labelledby").split()
    assert root.find("s:title", NS).get("id") == title_id and root.find("s:title", NS).text == "Hits <by> day"
    assert root.find("s:desc", NS).get("id") == desc_id and root.find("s:desc", NS).text == "One bar."


def test_grouped_bars_have_one_tooltipped_rect_per_value_and_a_legend():
    cats = ["NDCG@10", "Coverage", "MRR@25"]
    series = [Series("v1", cats, [0.2, 0.5, 0.1]), Series("v2", cats, [0.25, None, float("nan")]),
              Series("baseline", cats, [0.1, 0.05, 0.04], color=svg.BASELINE)]
    root = parse(svg.bar_chart(cats, series, title="Metrics", x_label="metric", y_label="value"))
    tips = tooltips(root, "rect")
    assert len(tips) == 7                                  # None and NaN leave gaps
    assert "v1 · Coverage: 0.5" in tips
    words = texts(root)
    assert {"v1", "v2", "baseline", "metric", "value", *cats} <= set(words)


def test_bars_start_at_zero_and_the_axis_covers_the_tallest():
    root = parse(svg.bar_chart(["a", "b"], [Series("s", [], [3.2, 7.9])], title="t"))
    ticks = [float(t.replace(",", "")) for t in texts(root) if t.replace(".", "").replace(",", "").isdigit()]
    assert min(ticks) == 0 and max(ticks) >= 7.9


def test_negative_bars_hang_below_zero():
    root = parse(svg.bar_chart(["a", "b"], [Series("s", [], [-2.0, 3.0])], title="t"))
    rects = [r for r in root.iter(f"{{{NS['s']}}}rect") if r.find("s:title", NS) is not None]
    zero_line = [float(ln.get("y1")) for ln in root.iter(f"{{{NS['s']}}}line") if ln.get("stroke") == svg.MUTED][-1]
    neg, pos = rects
    assert math.isclose(float(neg.get("y")), zero_line, abs_tol=0.11)              # hangs from zero
    assert math.isclose(float(pos.get("y")) + float(pos.get("height")), zero_line, abs_tol=0.11)


def test_line_chart_draws_each_series_and_a_tooltip_per_point():
    a = Series("ndcg", [1, 2, 3], [0.1, 0.2, 0.15], tips=["one", "two", "three"])
    b = Series("best so far", [1, 2, 3], [0.1, 0.2, 0.2], dashed=True, points=False)
    root = parse(svg.line_chart([a, b], title="By trial", x_label="trial", y_label="NDCG@10"))
    polylines = list(root.iter(f"{{{NS['s']}}}polyline"))
    assert len(polylines) == 2 and polylines[1].get("stroke-dasharray")
    assert tooltips(root, "circle") == ["one", "two", "three"]       # points=False: no markers for b
    assert len(polylines[0].get("points").split()) == 3


def test_scatter_has_no_lines_and_distinct_markers_per_series():
    a = Series("trials", [1, 2, 3], [1.0, 2.0, 3.0])
    b = Series("chosen", [2], [2.0])
    root = parse(svg.scatter_chart([a, b], title="p vs m"))
    assert not list(root.iter(f"{{{NS['s']}}}polyline"))
    assert len(tooltips(root, "circle")) == 3 and len(tooltips(root, "rect")) == 1     # circle, then square


def test_text_x_values_make_a_categorical_axis():
    root = parse(svg.scatter_chart([Series("t", ["true", "false", "true"], [1, 2, 3])], title="flag"))
    assert {"true", "false"} <= set(texts(root))
    numeric_as_columns = parse(svg.scatter_chart([Series("t", ["64", "16", "128"], [1, 2, 3])], title="h",
                                                 x_scale="category"))
    labels = [t for t in texts(numeric_as_columns) if t in {"16", "64", "128"}]
    assert labels == ["16", "64", "128"]                               # numeric order, not first seen


def test_wide_positive_ranges_get_a_log_axis():
    root = parse(svg.scatter_chart([Series("lr", [1e-4, 1e-3, 3e-2, 0.1], [1, 2, 3, 4])], title="lr"))
    assert {"0.0001", "0.001", "0.01", "0.1"} <= set(texts(root))


@pytest.mark.parametrize("chart", [svg.bar_chart, svg.line_chart, svg.scatter_chart])
def test_no_data_says_so(chart):
    if chart is svg.bar_chart:
        out = chart([], [], title="Empty")
    else:
        out = chart([Series("s", [1, 2], [None, float("nan")])], title="Empty")
    root = parse(out)
    assert "no data" in texts(root)


def test_one_point_and_equal_values_do_not_divide_by_zero():
    parse(svg.line_chart([Series("s", [5], [0.3])], title="one"))
    parse(svg.bar_chart(["a", "b"], [Series("s", [], [0.0, 0.0])], title="zeros"))
    parse(svg.scatter_chart([Series("s", [1, 1], [2.0, 2.0])], title="same"))


def test_names_are_escaped():
    root = parse(svg.bar_chart(["<b>&"], [Series('"quoted" & <tag>', [], [1.0])], title="a & b",
                               chart_id="id with spaces"))
    assert "<b>&" in texts(root)
    assert " " not in root.get("aria-labelledby").split()[0]


@pytest.mark.parametrize("lo,hi", [(0, 1), (0, 0.37), (0.12, 0.17), (-3, 7), (1, 1), (0, 12345), (1e-5, 3e-5)])
def test_nice_ticks_cover_the_range_with_round_even_steps(lo, hi):
    ticks = svg.nice_ticks(lo, hi)
    assert ticks[0] <= lo and ticks[-1] >= hi
    assert 2 <= len(ticks) <= 8
    steps = {round(b - a, 12) for a, b in zip(ticks, ticks[1:])}
    assert len(steps) == 1
    step = steps.pop()
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m) for m in (1, 2, 2.5, 5))


def test_tick_labels_show_the_decimals_the_step_needs():
    assert [svg.tick_label(t, 0.05) for t in (0.0, 0.05, 0.1)] == ["0", "0.05", "0.1"]
    assert svg.tick_label(0.25, 0.25) == "0.25"
    assert svg.tick_label(12500, 2500) == "12,500"
    assert svg.tick_label(0.00001) == "1e-5"
    assert svg.tick_label(0.1834) == "0.1834"


def test_nice_ticks_refuse_infinite_bounds():
    with pytest.raises(ValueError):
        svg.nice_ticks(0, math.inf)


def test_a_log_y_axis_spaces_decades_evenly_and_a_bad_scale_is_refused():
    line_chart = svg.line_chart
    drawn = line_chart([Series("t", [1, 2, 3], [1.0, 10.0, 100.0])], title="t", y_scale="log")
    ys = [float(v) for v in re.findall(r'<polyline points="([^"]+)"', drawn)[0].replace(",", " ").split()[1::2]]
    assert abs((ys[0] - ys[1]) - (ys[1] - ys[2])) < 0.01 and ys[0] > ys[1]     # equal steps per decade
    linear = line_chart([Series("t", [1, 2, 3], [1.0, 10.0, 100.0])], title="t")
    lys = [float(v) for v in re.findall(r'<polyline points="([^"]+)"', linear)[0].replace(",", " ").split()[1::2]]
    assert abs((lys[0] - lys[1]) - (lys[1] - lys[2])) > 10
    with pytest.raises(ValueError, match="y_scale"):
        line_chart([Series("t", [1], [1.0])], title="t", y_scale="logg")
