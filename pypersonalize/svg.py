"""Hand-written SVG charts for the HTML report: grouped bars, lines and scatter plots.

Each function returns one self-contained ``<svg>`` element as a string: presentation
attributes only (no CSS or scripts it depends on), a ``<title>``/``<desc>`` pair named by
``aria-labelledby`` so screen readers announce it, and a ``<title>`` on every bar and
point, which browsers show as a tooltip. Colours are the Okabe-Ito palette (told apart
with the common colour-vision deficiencies), and the series of a line or scatter chart
also differ by marker shape, so colour is never the only cue.

An x value that is not a number (or ``x_scale="category"``) makes a categorical axis, its
categories in numeric order when they are numbers; ``x_scale="auto"`` makes a log axis for positive numbers spanning two decades or more (learning rates and the like).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

# Okabe & Ito (2008) without its yellow, which is unreadable on white.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000")
BASELINE = "#8C8C8C"           # the colour callers give a baseline series
MARKERS = ("circle", "square", "triangle", "diamond")
INK, MUTED, GRID = "#1F2328", "#57606A", "#E6E8EB"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"

WIDTH, HEIGHT = 640, 340
TOP, RIGHT, BOTTOM, LEFT = 58, 18, 58, 66


@dataclass
class Series:
    """One named series: x values (numbers or category names), y values, a tooltip per point."""

    name: str
    xs: Sequence
    ys: Sequence[float | None]
    tips: Sequence[str] | None = None
    color: str | None = None
    marker: str | None = None
    line: bool = True                   # line charts: join the points (False: points only)
    dashed: bool = False
    points: bool = True                 # draw a marker (with its tooltip) on each point


@dataclass
class _Scale:
    lo: float
    hi: float
    start: float                        # pixel of lo
    end: float                          # pixel of hi
    log: bool = False
    ticks: list[float] = field(default_factory=list)

    def __call__(self, value: float) -> float:
        lo, hi, v = self.lo, self.hi, value
        if self.log:
            lo, hi, v = math.log10(lo), math.log10(hi), math.log10(value)
        if hi == lo:
            return (self.start + self.end) / 2
        return self.start + (v - lo) / (hi - lo) * (self.end - self.start)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values (1, 2, 2.5 or 5 times a power of ten) covering lo..hi."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("tick bounds must be finite")
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * 0.999)
    first = math.floor(lo / step + 1e-9) * step
    ticks, k = [], 0
    while True:
        value = first + k * step
        ticks.append(round(value, 12) + 0.0)        # + 0.0: no "-0"
        if value >= hi - step * 1e-9:
            return ticks
        k += 1


def log_ticks(lo: float, hi: float) -> list[float]:
    """Powers of ten covering lo..hi (both positive)."""
    first, last = math.floor(math.log10(lo) + 1e-9), math.ceil(math.log10(hi) - 1e-9)
    return [10.0 ** e for e in range(first, max(last, first + 1) + 1)]


def tick_label(value: float, step: float | None = None) -> str:
    """A tick's text: the decimals the step needs (or four significant ones), thousands
    separated, no trailing zeros; very large or small values in e-notation."""
    if value == 0:
        return "0"
    if abs(value) >= 1e6 or abs(value) < 1e-4:
        return f"{value:.0e}".replace("e-0", "e-").replace("e+0", "e")
    if step is not None and step > 0:
        decimals = max(0, -math.floor(math.log10(step) + 1e-9))
        if round(step * 10 ** decimals, 6) % 1:          # 2.5, 0.25, ...
            decimals += 1
    elif float(value).is_integer():
        decimals = 0
    else:
        decimals = max(0, 3 - math.floor(math.log10(abs(value))))
    text = f"{value:,.{min(decimals, 8)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _num(value) -> float | None:
    """A finite float, or None for anything else (None, NaN, text)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _f(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _chart_id(title: str, salt: str) -> str:
    return "c" + hashlib.sha1(f"{title}\0{salt}".encode()).hexdigest()[:10]


def _open(title: str, desc: str, chart_id: str, width: int, height: int) -> list[str]:
    chart_id = re.sub(r"[^A-Za-z0-9_-]", "-", chart_id)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" class="chart" '
        f'font-family="{escape(FONT)}" font-size="12" fill="{INK}">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>',
        f'<rect width="{width}" height="{height}" fill="#FFFFFF"/>',
        f'<text x="{LEFT - 50}" y="22" font-size="15" font-weight="600">{escape(title)}</text>',
    ]


def _empty(title: str, message: str, chart_id: str, width: int, height: int) -> str:
    parts = _open(title, message, chart_id, width, height)
    parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="{MUTED}" '
                 f'font-size="14">{escape(message)}</text>')
    return "\n".join(parts + ["</svg>"])


def _legend(entries: list[tuple[str, str, str]], width: int) -> list[str]:
    """One row under the title: (name, colour, marker or "bar") per entry, wrapping when long."""
    out, x, y = [], LEFT - 50, 42
    for name, color, marker in entries:
        label = name if len(name) <= 28 else name[:27] + "…"
        span = 18 + 7 * len(label) + 16
        if x + span > width - RIGHT and x > LEFT - 50:
            x, y = LEFT - 50, y + 16
        if marker == "bar":
            out.append(f'<rect x="{_f(x)}" y="{y - 9}" width="12" height="10" fill="{color}"/>')
        elif marker in ("line", "dashed"):
            dash = ' stroke-dasharray="4 3"' if marker == "dashed" else ""
            out.append(f'<line x1="{_f(x - 2)}" x2="{_f(x + 14)}" y1="{y - 4}" y2="{y - 4}" stroke="{color}" '
                       f'stroke-width="2"{dash}/>')
        else:
            out.append(_marker(marker, x + 6, y - 4, color, 4.5))
        out.append(f'<text x="{_f(x + 18)}" y="{y}" fill="{INK}">{escape(label)}</text>')
        x += span
    return out


def _legend_rows(entries: list[tuple[str, str, str]], width: int) -> int:
    rows, x = 1, LEFT - 50
    for name, _, _ in entries:
        span = 18 + 7 * min(len(name), 28) + 16
        if x + span > width - RIGHT and x > LEFT - 50:
            rows, x = rows + 1, LEFT - 50
        x += span
    return rows


def _marker(kind: str, x: float, y: float, color: str, r: float = 4.0, tip: str | None = None) -> str:
    tooltip = f"<title>{escape(tip)}</title>" if tip else ""
    common = f'fill="{color}" stroke="#FFFFFF" stroke-width="1"'
    if kind == "square":
        shape = f'<rect x="{_f(x - r)}" y="{_f(y - r)}" width="{_f(2 * r)}" height="{_f(2 * r)}" {common}'
    elif kind == "triangle":
        pts = f"{_f(x)},{_f(y - r * 1.2)} {_f(x + r * 1.1)},{_f(y + r * 0.8)} {_f(x - r * 1.1)},{_f(y + r * 0.8)}"
        shape = f'<polygon points="{pts}" {common}'
    elif kind == "diamond":
        pts = f"{_f(x)},{_f(y - r * 1.3)} {_f(x + r * 1.1)},{_f(y)} {_f(x)},{_f(y + r * 1.3)} {_f(x - r * 1.1)},{_f(y)}"
        shape = f'<polygon points="{pts}" {common}'
    else:
        shape = f'<circle cx="{_f(x)}" cy="{_f(y)}" r="{_f(r)}" {common}'
    return f'{shape} class="point">{tooltip}</{shape.split()[0][1:]}>' if tooltip else shape + "/>"


def _y_axis(scale: _Scale, label: str, width: int, fmt) -> list[str]:
    out = []
    step = scale.ticks[1] - scale.ticks[0] if len(scale.ticks) > 1 else None
    for t in scale.ticks:
        y = scale(t)
        out.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{_f(y)}" y2="{_f(y)}" stroke="{GRID}"/>')
        text = fmt(t) if fmt else tick_label(t, None if scale.log else step)
        out.append(f'<text x="{LEFT - 8}" y="{_f(y + 4)}" text-anchor="end" fill="{MUTED}">{escape(text)}</text>')
    mid = (scale.start + scale.end) / 2
    out.append(f'<text transform="translate(16 {_f(mid)}) rotate(-90)" text-anchor="middle" '
               f'fill="{MUTED}">{escape(label)}</text>')
    return out


def _x_label(label: str, width: int, height: int) -> str:
    return (f'<text x="{_f((LEFT + width - RIGHT) / 2)}" y="{height - 12}" text-anchor="middle" '
            f'fill="{MUTED}">{escape(label)}</text>')


def _axis_line(width: int, y: float) -> str:
    return f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{_f(y)}" y2="{_f(y)}" stroke="{MUTED}"/>'


def _value_scale(values: list[float], start: float, end: float, zero: bool, log: bool = False) -> _Scale:
    lo, hi = min(values), max(values)
    if log:
        ticks = log_ticks(lo, hi)
        return _Scale(ticks[0], ticks[-1], start, end, True, ticks)
    if zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    else:
        pad = (hi - lo) * 0.05
        lo, hi = (lo - pad if lo - pad >= 0 or lo < 0 else 0.0), hi + pad
    ticks = nice_ticks(lo, hi)
    return _Scale(ticks[0], ticks[-1], start, end, False, ticks)


def bar_chart(categories: Sequence[str], series: Sequence[Series], *, title: str, x_label: str = "",
              y_label: str = "", desc: str | None = None, y_format=None, width: int = WIDTH,
              height: int = HEIGHT, chart_id: str | None = None) -> str:
    """Grouped bars: one group per category, one bar per series (``Series.ys`` aligned with
    ``categories``; ``xs`` is ignored). None/NaN values leave a gap. Bars start at zero."""
    chart_id = chart_id or _chart_id(title, "bar")
    values = [v for s in series for v in map(_num, s.ys) if v is not None]
    desc = desc or f"Bar chart of {y_label or 'values'} by {x_label or 'category'}."
    if not categories or not values:
        return _empty(title, "no data", chart_id, width, height)
    colors = [s.color or PALETTE[i % len(PALETTE)] for i, s in enumerate(series)]
    entries = [(s.name, c, "bar") for s, c in zip(series, colors)]
    top = TOP + 16 * (_legend_rows(entries, width) - 1) if len(series) > 1 else TOP - 16
    long_labels = max(len(str(c)) for c in categories) * 6.5 > (width - LEFT - RIGHT) / len(categories)
    bottom = BOTTOM + (24 if long_labels else 0)
    y = _value_scale(values, height - bottom, top, zero=True)
    parts = _open(title, desc, chart_id, width, height)
    if len(series) > 1:
        parts += _legend(entries, width)
    parts += _y_axis(y, y_label, width, y_format)
    band = (width - LEFT - RIGHT) / len(categories)
    inner = min(band * 0.8, 64.0 * len(series))
    bar = inner / max(len(series), 1)
    zero = y(0.0)
    for i, cat in enumerate(categories):
        x0 = LEFT + i * band + (band - inner) / 2
        for j, (s, color) in enumerate(zip(series, colors)):
            v = _num(s.ys[i]) if i < len(s.ys) else None
            if v is None:
                continue
            top_px, bottom_px = sorted((y(v), zero))
            tip = s.tips[i] if s.tips and i < len(s.tips) and s.tips[i] else \
                f"{s.name} · {cat}: {y_format(v) if y_format else tick_label(v)}"
            parts.append(f'<rect x="{_f(x0 + j * bar + 0.5)}" y="{_f(top_px)}" width="{_f(max(bar - 1, 1))}" '
                         f'height="{_f(max(bottom_px - top_px, 0.5))}" fill="{color}" class="bar">'
                         f"<title>{escape(tip)}</title></rect>")
        cx = LEFT + (i + 0.5) * band
        label = escape(str(cat))
        if long_labels:
            parts.append(f'<text transform="translate({_f(cx)} {_f(height - bottom + 14)}) rotate(-30)" '
                         f'text-anchor="end" fill="{MUTED}">{label}</text>')
        else:
            parts.append(f'<text x="{_f(cx)}" y="{_f(height - bottom + 16)}" text-anchor="middle" '
                         f'fill="{MUTED}">{label}</text>')
    parts.append(_axis_line(width, zero))
    if x_label:
        parts.append(_x_label(x_label, width, height))
    return "\n".join(parts + ["</svg>"])


def _xy_chart(series: Sequence[Series], *, title: str, x_label: str, y_label: str, desc: str | None,
              joined: bool, x_scale: str, y_zero: bool, y_format, width: int, height: int,
              chart_id: str | None, y_scale: str = "linear") -> str:
    if y_scale not in ("linear", "log"):
        raise ValueError(f"y_scale must be 'linear' or 'log', got {y_scale!r}")
    kind = "line" if joined else "scatter"
    chart_id = chart_id or _chart_id(title, kind)
    desc = desc or f"{'Line chart' if joined else 'Scatter plot'} of {y_label or 'y'} against {x_label or 'x'}."
    pts = [(s, [(x, _num(y), (s.tips[k] if s.tips and k < len(s.tips) else None))
                for k, (x, y) in enumerate(zip(s.xs, s.ys))]) for s in series]
    pts = [(s, [(x, y, t) for x, y, t in p if y is not None and x is not None]) for s, p in pts]
    xs_all = [x for _, p in pts for x, _, _ in p]
    if not xs_all:
        return _empty(title, "no data", chart_id, width, height)
    numeric = x_scale != "category" and all(_num(x) is not None for x in xs_all)
    entries = [(s.name, s.color or PALETTE[i % len(PALETTE)], s.marker or MARKERS[i % len(MARKERS)])
               for i, (s, _) in enumerate(pts)]
    keys = [e if s.points else (e[0], e[1], "dashed" if s.dashed else "line") for e, (s, _) in zip(entries, pts)]
    show_legend = len(series) > 1
    top = TOP + 16 * (_legend_rows(entries, width) - 1) if show_legend else TOP - 16
    parts = _open(title, desc, chart_id, width, height)
    if show_legend:
        parts += _legend(keys, width)
    ys_all = [y for _, p in pts for _, y, _ in p]
    y_log = y_scale == "log" and min(ys_all) > 0          # a zero or a negative cannot go on a log axis
    y = _value_scale(ys_all, height - BOTTOM, top, zero=y_zero, log=y_log)
    parts += _y_axis(y, y_label, width, y_format)
    if numeric:
        nums = [_num(x) for x in xs_all]
        log = x_scale == "log" or (x_scale == "auto" and min(nums) > 0 and max(nums) / min(nums) >= 100)
        if log and min(nums) <= 0:
            log = False
        x = _value_scale(nums, LEFT + 12, width - RIGHT - 12, zero=False, log=log)
        if not log and all(float(v).is_integer() for v in nums) and len(set(nums)) <= 12:
            x.ticks = [t for t in x.ticks if float(t).is_integer()]
        step = x.ticks[1] - x.ticks[0] if len(x.ticks) > 1 and not log else None
        for t in x.ticks:
            px = x(t)
            if px < LEFT - 0.5 or px > width - RIGHT + 0.5:
                continue
            parts.append(f'<line x1="{_f(px)}" x2="{_f(px)}" y1="{_f(height - BOTTOM)}" '
                         f'y2="{_f(height - BOTTOM + 5)}" stroke="{MUTED}"/>')
            parts.append(f'<text x="{_f(px)}" y="{_f(height - BOTTOM + 18)}" text-anchor="middle" '
                         f'fill="{MUTED}">{escape(tick_label(t, step))}</text>')

        def px_of(v):
            return x(_num(v))
    else:
        cats = list(dict.fromkeys(str(v) for v in xs_all))
        try:
            cats.sort(key=float)
        except ValueError:
            pass
        band = (width - LEFT - RIGHT) / len(cats)
        where = {c: LEFT + (i + 0.5) * band for i, c in enumerate(cats)}
        for c, px in where.items():
            parts.append(f'<text x="{_f(px)}" y="{_f(height - BOTTOM + 18)}" text-anchor="middle" '
                         f'fill="{MUTED}">{escape(c if len(c) <= 14 else c[:13] + "…")}</text>')

        def px_of(v):
            return where[str(v)]
    parts.append(_axis_line(width, height - BOTTOM))
    for (s, p), (_, color, marker) in zip(pts, entries):
        if joined and s.line and len(p) > 1:
            path = " ".join(f"{_f(px_of(a))},{_f(y(b))}" for a, b, _ in p)
            dash = ' stroke-dasharray="5 4"' if s.dashed else ""
            parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        for a, b, tip in p if s.points else ():
            text = tip or f"{s.name}: {x_label or 'x'} {a}, {y_label or 'y'} " \
                          f"{y_format(b) if y_format else tick_label(b)}"
            parts.append(_marker(marker, px_of(a), y(b), color, 4.5, text))
    if x_label:
        parts.append(_x_label(x_label, width, height))
    return "\n".join(parts + ["</svg>"])


def line_chart(series: Sequence[Series], *, title: str, x_label: str = "", y_label: str = "",
               desc: str | None = None, x_scale: str = "auto", y_zero: bool = False, y_format=None,
               width: int = WIDTH, height: int = HEIGHT, chart_id: str | None = None,
               y_scale: str = "linear") -> str:
    """Lines through each series' points (in the order given), a marker with a tooltip on each;
    ``y_scale="log"`` puts y on a log axis (when every y is positive)."""
    return _xy_chart(series, title=title, x_label=x_label, y_label=y_label, desc=desc, joined=True,
                     x_scale=x_scale, y_zero=y_zero, y_format=y_format, width=width, height=height,
                     chart_id=chart_id, y_scale=y_scale)


def scatter_chart(series: Sequence[Series], *, title: str, x_label: str = "", y_label: str = "",
                  desc: str | None = None, x_scale: str = "auto", y_zero: bool = False, y_format=None,
                  width: int = WIDTH, height: int = HEIGHT, chart_id: str | None = None) -> str:
    """Points only; a categorical x axis when any x is not a number."""
    return _xy_chart(series, title=title, x_label=x_label, y_label=y_label, desc=desc, joined=False,
                     x_scale=x_scale, y_zero=y_zero, y_format=y_format, width=width, height=height,
                     chart_id=chart_id)


__all__ = ["BASELINE", "PALETTE", "Series", "bar_chart", "line_chart", "log_ticks", "nice_ticks",
           "scatter_chart", "tick_label"]
