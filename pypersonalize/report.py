"""A solution's HTML report: one self-contained file (inline CSS and SVG, no scripts, nothing
fetched when it is viewed) with every version's offline metrics against the Popularity-Count
baseline, HPO trials, the long tail of recommended items and coverage.

Two steps, kept apart so each can be tested alone:

- ``collect(pp, solution) -> dict`` reads the project through public API calls only
  (``describe_solution``, ``list_solution_versions``, ``describe_solution_version``,
  ``get_solution_metrics``) and tolerates any key being absent;
- ``render(data) -> str`` is a pure function of that dict.

``write_report(pp, solution, path)`` does both and writes the file (``pypersonalize report``).
"""

from __future__ import annotations

import logging
import math
import re
from datetime import date, datetime, timezone
from html import escape
from pathlib import Path

from . import svg
from .errors import PypersonalizeError

log = logging.getLogger(__name__)

MAX_BAR_VERSIONS = 6            # the metrics bar chart shows the most recent ones
_LABELS = {"coverage": "Coverage", "mean_reciprocal_rank": "MRR", "normalized_discounted_cumulative_gain": "NDCG",
           "normalized_discounted_cumulative_gain_with_event_weights": "NDCG (event weights)",
           "precision": "Precision", "average_rewards": "Avg. rewards", "hit": "Hit", "recall": "Recall",
           "trend_prediction_accuracy": "Trend accuracy"}
_ORDER = ("normalized_discounted_cumulative_gain", "normalized_discounted_cumulative_gain_with_event_weights",
          "precision", "mean_reciprocal_rank", "average_rewards", "hit", "recall", "trend_prediction_accuracy",
          "coverage")
# The number a report leads with: the first of these a version has.
PRIMARY = ("normalized_discounted_cumulative_gain_at_10", "normalized_discounted_cumulative_gain_at_25",
           "normalized_discounted_cumulative_gain_with_event_weights_at_k", "average_rewards_at_k", "hit",
           "recall", "trend_prediction_accuracy", "precision_at_10", "mean_reciprocal_rank_at_25")
_AT = re.compile(r"^(.*)_at_(\w+)$")


# -- collect ---------------------------------------------------------------------------------

def collect(pp, solution: str) -> dict:
    """Everything the report shows, read through the public API. A version whose metrics or
    description cannot be read is still listed, with what its list entry had."""
    sol = dict(pp.describe_solution(solution)["solution"])
    versions = []
    for entry in pp.list_solution_versions(sol.get("solutionArn") or solution)["solutionVersions"]:
        version = dict(entry)
        arn = version.get("solutionVersionArn")
        try:
            version.update(pp.describe_solution_version(arn)["solutionVersion"])
        except PypersonalizeError as exc:
            log.info("report: describe_solution_version(%s) failed: %s", arn, exc)
        version["metrics"] = {}
        if version.get("status") in ("ACTIVE", "INACTIVE"):
            try:
                version["metrics"] = dict(pp.get_solution_metrics(arn).get("metrics") or {})
            except PypersonalizeError as exc:
                log.info("report: get_solution_metrics(%s) failed: %s", arn, exc)
        versions.append(version)
    versions.sort(key=_version_number)
    return {"solution": sol, "versions": versions,
            "generatedAt": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def write_report(pp, solution: str, path: str | Path) -> dict:
    """Collect, render and write the report to ``path``; returns what was written."""
    data = collect(pp, solution)
    page = render(data)
    out = Path(path)
    out.write_text(page, encoding="utf-8")
    log.info("report: wrote %s (%d bytes, %d versions)", out, len(page.encode()), len(data["versions"]))
    return {"report": str(out), "solution": data["solution"].get("name"),
            "solutionVersions": len(data["versions"]), "bytes": len(page.encode())}


# -- small formatting helpers ----------------------------------------------------------------

def format_metric(value) -> str:
    """A metric as the report prints it: four decimals ("—" when absent)."""
    v = _num(value)
    return "—" if v is None else f"{v:.4f}"


def format_percent(value, decimals: int = 1) -> str:
    v = _num(value)
    return "—" if v is None else f"{v * 100:.{decimals}f}%"


def metric_label(key: str) -> str:
    """``normalized_discounted_cumulative_gain_at_10`` -> ``NDCG@10``."""
    m = _AT.match(key)
    base, at = (m.group(1), m.group(2)) if m else (key, None)
    label = _LABELS.get(base) or base.replace("_", " ").capitalize()
    return f"{label}@{at}" if at else label


def metric_order(keys) -> list[str]:
    def rank(key):
        m = _AT.match(key)
        base, at = (m.group(1), m.group(2)) if m else (key, "")
        family = _ORDER.index(base) if base in _ORDER else len(_ORDER)
        return (family, base, int(at) if at.isdigit() else math.inf, at)
    return sorted(set(keys), key=rank)


def primary_metric(keys) -> str | None:
    keys = list(keys)
    for key in PRIMARY:
        if key in keys:
            return key
    rest = [k for k in metric_order(keys) if k != "coverage"]
    return rest[0] if rest else (keys[0] if keys else None)


def _num(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _tail(arn) -> str:
    return str(arn).rstrip("/").rsplit("/", 1)[-1] if arn else "—"


def _version_number(version: dict) -> tuple:
    tail = _tail(version.get("solutionVersionArn"))
    return (0, int(tail), "") if tail.isdigit() else (1, 0, tail)


def _label(version: dict) -> str:
    tail = _tail(version.get("solutionVersionArn"))
    return f"v{tail}" if tail.isdigit() else tail


def _when(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc).strftime("%Y-%m-%d %H:%M")
    text = str(value)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return text


def _seconds(value) -> str:
    v = _num(value)
    if v is None:
        return "—"
    return f"{v:.2f} s" if v < 10 else f"{v:,.1f} s" if v < 600 else f"{v / 60:,.1f} min"


def _ratio(value, base) -> tuple[str, str] | None:
    v, b = _num(value), _num(base)
    if v is None or b is None or b <= 0:
        return None
    r = v / b
    return f"{r:.2f}×", ("up" if r > 1.005 else "down" if r < 0.995 else "same")


def _count(value) -> str:
    v = _num(value)
    return f"{int(v):,}" if v is not None and float(v).is_integer() else _e(value)


def _e(value) -> str:
    return escape("" if value is None else str(value))


# -- the model of the page -------------------------------------------------------------------

class _View:
    """What render() works from: the versions, which of them have metrics, the columns."""

    def __init__(self, data: dict):
        self.solution: dict = dict(data.get("solution") or {})
        self.versions: list[dict] = sorted((dict(v) for v in data.get("versions") or []), key=_version_number)
        self.generated = data.get("generatedAt")
        self.scored = [v for v in self.versions if self.metrics(v)]
        keys = {k for v in self.scored for k in self.metrics(v)}
        keys |= {k for v in self.scored for k in self.baseline(v)}
        self.columns = metric_order(k for k in keys if _num(self.metrics_any(k)) is not None)
        self.primary = primary_metric(self.columns)
        self.best = self._best()

    @staticmethod
    def metrics(version: dict) -> dict:
        found = version.get("metrics") or {}
        return {k: v for k, v in found.items() if _num(v) is not None}

    @staticmethod
    def evaluation(version: dict) -> dict:
        ev = version.get("evaluation")
        return ev if isinstance(ev, dict) else {}

    def baseline(self, version: dict) -> dict:
        base = self.evaluation(version).get("baseline")
        found = base.get("metrics") if isinstance(base, dict) else None
        return {k: v for k, v in (found or {}).items() if _num(v) is not None}

    def metrics_any(self, key: str):
        for v in self.scored:
            if key in self.metrics(v):
                return self.metrics(v)[key]
            if key in self.baseline(v):
                return self.baseline(v)[key]
        return None

    def _best(self) -> dict | None:
        if not self.scored or self.primary is None:
            return self.scored[-1] if self.scored else None
        ranked = [v for v in self.scored if self.primary in self.metrics(v)] or self.scored
        return max(reversed(ranked), key=lambda v: _num(self.metrics(v).get(self.primary)) or -math.inf)

    def column_best(self, key: str) -> float | None:
        values = [_num(self.metrics(v).get(key)) for v in self.scored]
        values = [x for x in values if x is not None]
        return max(values) if values else None

    def latest_baseline(self) -> tuple[dict | None, dict]:
        for version in reversed(self.scored):
            base = self.baseline(version)
            if base:
                return version, base
        return None, {}

    def with_trials(self) -> list[dict]:
        return [v for v in self.versions if isinstance(v.get("hpoTrials"), list) and v["hpoTrials"]]


# -- render ----------------------------------------------------------------------------------

def render(data: dict) -> str:
    """The report page for ``collect``'s dict (or a hand-made one of its shape)."""
    view = _View(data)
    name = view.solution.get("name") or _tail(view.solution.get("solutionArn")) or "solution"
    body = [_header(view, name)]
    if not view.versions:
        body.append('<section class="panel empty" id="no-versions"><h2>No solution versions yet</h2>'
                    f"<p>Solution <strong>{_e(name)}</strong> has not been trained, so there is nothing "
                    "to measure. Train a version, then make the report again:</p>"
                    f"<pre><code>pypersonalize solution-version create {_e(name)}\n"
                    f"pypersonalize report --solution {_e(name)} --output report.html</code></pre></section>")
    else:
        body += [_cards(view), _metrics_table(view), _metric_charts(view), _long_tail(view),
                 _hpo(view), _automl(view), _version_details(view)]
    body.append(_footer(view))
    return _PAGE.format(title=_e(f"{name} · solution report"), css=_CSS, body="\n".join(b for b in body if b))


def _header(view: _View, name: str) -> str:
    sol = view.solution
    facts = [("Recipe", _tail(sol.get("recipeArn"))), ("Dataset group", _tail(sol.get("datasetGroupArn"))),
             ("Status", sol.get("status") or "—"), ("Created", _when(sol.get("creationDateTime")))]
    best = (sol.get("autoMLResult") or {}).get("bestRecipeArn") if isinstance(sol.get("autoMLResult"), dict) \
        else None
    if best:
        facts.insert(1, ("AutoML's best recipe", _tail(best)))
    if sol.get("eventType"):
        facts.append(("Event type", sol["eventType"]))
    flags = [label for key, label in (("performHPO", "HPO"), ("performAutoML", "AutoML"),
                                      ("performAutoTraining", "automatic training")) if sol.get(key)]
    if flags:
        facts.append(("Options", ", ".join(flags)))
    dl = "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in facts)
    arn = f'<p class="arn">{_e(sol.get("solutionArn"))}</p>' if sol.get("solutionArn") else ""
    return (f'<header class="hero"><p class="eyebrow">pypersonalize · solution report</p>'
            f"<h1>{_e(name)}</h1>{arn}<dl class=\"facts\">{dl}</dl></header>")


def _card(label: str, value: str, sub: str = "", tone: str = "") -> str:
    sub_html = f'<div class="sub">{sub}</div>' if sub else ""
    return (f'<div class="card {tone}"><div class="label">{_e(label)}</div>'
            f'<div class="value">{_e(value)}</div>{sub_html}</div>')


def _cards(view: _View) -> str:
    cards = []
    best = view.best
    if best is not None and view.primary:
        value = view.metrics(best).get(view.primary)
        base = view.baseline(best).get(view.primary)
        ratio = _ratio(value, base)
        sub = f"{_e(_label(best))}" + (f" · <strong class=\"{ratio[1]}\">{ratio[0]}</strong> the popularity "
                                       f"baseline ({format_metric(base)})" if ratio else "")
        cards.append(_card(f"Best {metric_label(view.primary)}", format_metric(value), sub, "lead"))
        cov = view.metrics(best).get("coverage")
        if cov is not None:
            base_cov = view.baseline(best).get("coverage")
            sub = f"of the catalogue recommended ({_e(_label(best))})"
            if base_cov is not None:
                sub += f" · baseline {format_percent(base_cov)}"
            cards.append(_card("Coverage", format_percent(cov), sub))
    counts: dict[str, int] = {}
    for v in view.versions:
        counts[v.get("status") or "UNKNOWN"] = counts.get(v.get("status") or "UNKNOWN", 0) + 1
    breakdown = " · ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items()))
    failed = any("FAILED" in s for s in counts)
    cards.append(_card("Versions", str(len(view.versions)), _e(breakdown), "warn" if failed else ""))
    split = view.evaluation(best).get("split") if best is not None else None
    if isinstance(split, dict) and split.get("testUsers") is not None:
        sub = []
        if split.get("truthInteractions") is not None:
            sub.append(f"{_count(split['truthInteractions'])} held-out interactions")
        if split.get("trainUsers") is not None:
            sub.append(f"{_count(split['trainUsers'])} training users")
        cards.append(_card("Test users", _count(split["testUsers"]), _e(" · ".join(sub))))
    trials = view.with_trials()
    if trials:
        total = sum(len(v["hpoTrials"]) for v in trials)
        last = trials[-1]["hpoTrials"]
        scored = [t for t in last if _num(t.get("validationMetric")) is not None]
        sub = ""
        if scored:
            top = max(scored, key=lambda t: _num(t["validationMetric"]))
            sub = (f"best: trial {_e(top.get('trialNumber'))}, {_e(metric_label(str(top.get('metricName', ''))))} "
                   f"{format_metric(top['validationMetric'])}")
        cards.append(_card("HPO trials", str(total), sub))
    latest = view.versions[-1]
    if _num(latest.get("trainingSeconds")) is not None:
        cards.append(_card("Training time", _seconds(latest["trainingSeconds"]), f"latest version ({_e(_label(latest))})"))
    return f'<section class="cards" aria-label="Key numbers">{"".join(cards)}</section>'


def _status_badge(status) -> str:
    s = str(status or "UNKNOWN")
    tone = "ok" if s == "ACTIVE" else "bad" if "FAILED" in s else "muted"
    return f'<span class="badge {tone}">{_e(s)}</span>'


def _metrics_table(view: _View) -> str:
    cols = view.columns
    intro = ('<p class="lead-in">Each version is scored on held-out users when it trains '
             "(Personalize's split); the baseline is Popularity-Count scored on the same split. "
             "The best value of each column is highlighted <span class=\"star\" aria-hidden=\"true\">★</span>; "
             "the small number under a value is its ratio to that version's baseline.</p>")
    if not cols:
        intro += '<p class="note">No version has offline metrics yet.</p>'
    elif not view.latest_baseline()[1]:
        intro += '<p class="note">No baseline was recorded with these metrics.</p>'
    head = "".join(f'<th scope="col"><abbr title="{_e(k)}">{_e(metric_label(k))}</abbr></th>' for k in cols)
    rows = []
    for v in view.versions:
        metrics, base = view.metrics(v), view.baseline(v)
        label = (f'<th scope="row"><span class="vlabel">{_e(_label(v))}</span> {_status_badge(v.get("status"))}'
                 f'<span class="when">{_e(_when(v.get("creationDateTime")))}</span></th>')
        ev = view.evaluation(v)
        if "FAILED" in str(v.get("status", "")):
            reason = v.get("failureReason") or "no reason recorded"
            cells = f'<td class="failure" colspan="{max(len(cols), 1)}">Failed: {_e(reason)}</td>'
        elif not metrics:
            why = ev.get("skipped") or ("still training" if v.get("status") not in ("ACTIVE", "INACTIVE")
                                        else "no metrics recorded")
            cells = f'<td class="nometrics" colspan="{max(len(cols), 1)}">No metrics: {_e(why)}</td>'
        else:
            out = []
            for k in cols:
                value = metrics.get(k)
                if value is None:
                    out.append('<td class="missing">—</td>')
                    continue
                best = view.column_best(k)
                is_best = len(view.scored) > 1 and best is not None and _num(value) == best
                ratio = _ratio(value, base.get(k))
                ratio_html = f'<span class="ratio {ratio[1]}">{ratio[0]}</span>' if ratio else ""
                star = '<span class="star" title="best in column">★</span> ' if is_best else ""
                out.append(f'<td class="{"best" if is_best else ""}">{star}{format_metric(value)}{ratio_html}</td>')
            cells = "".join(out)
        rows.append(f"<tr>{label}{cells}</tr>")
    holder, base = view.latest_baseline()
    if base and cols:
        others = {tuple(sorted(view.baseline(v).items())) for v in view.scored if view.baseline(v)}
        note = f" (on {_e(_label(holder))}'s split)" if len(others) > 1 else ""
        cells = "".join(f"<td>{format_metric(base.get(k))}</td>" for k in cols)
        rows.append(f'<tr class="baseline"><th scope="row">Popularity-Count baseline{note}</th>{cells}</tr>')
    table = (f'<div class="table-wrap"><table class="metrics"><thead><tr><th scope="col">Version</th>{head}'
             f'</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')
    return f'<section class="panel" id="metrics"><h2>Offline metrics</h2>{intro}{table}</section>'


def _figure(chart: str, caption: str = "") -> str:
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f"<figure>{chart}{cap}</figure>"


def _metric_charts(view: _View) -> str:
    if not view.scored:
        return ""
    figures = []
    shown = view.scored[-MAX_BAR_VERSIONS:]
    cols = [k for k in view.columns if any(k in view.metrics(v) for v in shown)]
    holder, base = view.latest_baseline()
    series = [svg.Series(_label(v), cols, [view.metrics(v).get(k) for k in cols],
                         tips=[f"{_label(v)} · {metric_label(k)}: {format_metric(view.metrics(v).get(k))}"
                               for k in cols]) for v in shown]
    if base:
        series.append(svg.Series("Popularity baseline", cols, [base.get(k) for k in cols], color=svg.BASELINE,
                                 tips=[f"Popularity baseline · {metric_label(k)}: {format_metric(base.get(k))}"
                                       for k in cols]))
    more = f" The {len(shown)} most recent of {len(view.scored)} versions are shown." \
        if len(view.scored) > len(shown) else ""
    figures.append(_figure(svg.bar_chart([metric_label(k) for k in cols], series, title="Metrics vs the baseline",
                                         x_label="metric", y_label="value", y_format=None, chart_id="metrics-bars",
                                         desc="Offline metric values of each version next to the popularity "
                                              "baseline."),
                           "Higher is better for every metric." + more))
    with_cov = [v for v in view.scored if "coverage" in view.metrics(v)]
    if with_cov:
        labels = [_label(v) for v in with_cov]
        cov = svg.Series("Solution version", labels, [view.metrics(v)["coverage"] for v in with_cov],
                         tips=[f"{_label(v)}: coverage {format_percent(view.metrics(v)['coverage'])}"
                               for v in with_cov])
        cov_base = svg.Series("Popularity baseline", labels, [view.baseline(v).get("coverage") for v in with_cov],
                              color=svg.BASELINE,
                              tips=[f"{_label(v)}'s baseline: coverage "
                                    f"{format_percent(view.baseline(v).get('coverage'))}" for v in with_cov])
        series = [cov, cov_base] if any(view.baseline(v).get("coverage") is not None for v in with_cov) else [cov]
        figures.append(_figure(svg.bar_chart(labels, series, title="Catalogue coverage", x_label="solution version",
                                             y_label="share of items recommended", chart_id="coverage-bars",
                                             y_format=lambda x: format_percent(x, 0),
                                             desc="Share of the catalogue that appears in the test users' "
                                                  "recommendations, per version, next to the baseline's."),
                               "Coverage: the share of catalogue items recommended to at least one test user."))
    primary = view.primary
    trend = [v for v in view.scored if primary in view.metrics(v)]
    if primary and len(trend) >= 2:
        nums = [_label(v) for v in trend]
        lines = [svg.Series(metric_label(primary), nums, [view.metrics(v)[primary] for v in trend],
                            tips=[f"{_label(v)}: {metric_label(primary)} {format_metric(view.metrics(v)[primary])}"
                                  for v in trend])]
        if any(primary in view.baseline(v) for v in trend):
            lines.append(svg.Series("Popularity baseline", nums, [view.baseline(v).get(primary) for v in trend],
                                    color=svg.BASELINE, dashed=True, marker="square",
                                    tips=[f"{_label(v)}'s baseline: {format_metric(view.baseline(v).get(primary))}"
                                          for v in trend]))
        figures.append(_figure(svg.line_chart(lines, title=f"{metric_label(primary)} by version",
                                              x_label="solution version", y_label=metric_label(primary),
                                              chart_id="primary-line", x_scale="linear",
                                              desc=f"{metric_label(primary)} of each version in training order, "
                                                   "with its baseline."),
                               "Each version against the baseline on its own split." if len(lines) > 1 else ""))
    return f'<section class="panel" id="charts"><h2>At a glance</h2><div class="charts">{"".join(figures)}</div></section>'


def _long_tail(view: _View) -> str:
    version = view.best
    if version is None:
        candidates = [v for v in view.versions if view.evaluation(v).get("longTail")]
        version = candidates[-1] if candidates else None
    tail = view.evaluation(version).get("longTail") if version is not None else None
    if not isinstance(tail, dict):
        return ""
    cat, rec = list(tail.get("catalogShare") or []), list(tail.get("recommendedShare") or [])
    bins = int(_num(tail.get("bins")) or max(len(cat), len(rec)))
    if not bins or not (cat or rec):
        return ""
    labels = [str(b + 1) for b in range(bins)]
    series = [svg.Series("Training interactions", labels, cat, color=svg.BASELINE,
                         tips=[f"bin {b + 1}: {format_percent(x)} of training interactions" for b, x in enumerate(cat)]),
              svg.Series(f"Recommendations ({_label(version)})", labels, rec, color=svg.PALETTE[0],
                         tips=[f"bin {b + 1}: {format_percent(x)} of recommendation slots" for b, x in enumerate(rec)])]
    chart = svg.bar_chart(labels, series, title="Popularity of recommended items vs the catalogue",
                          x_label=f"items by training popularity, most popular first ({bins} bins of equal item count)",
                          y_label="share", y_format=lambda x: format_percent(x, 0), chart_id="long-tail",
                          width=960, height=360,
                          desc="For each popularity bin, its share of training interactions and its share of "
                               "the test users' recommendation slots.")
    facts = []
    if cat and rec:
        facts.append(f"The most popular {format_percent(1 / bins, 0)} of items draw {format_percent(cat[0])} of the "
                     f"training interactions and get {format_percent(rec[0])} of the recommendation slots.")
        half = bins // 2
        if half:
            facts.append(f"The less popular half of the catalogue draws {format_percent(sum(cat[half:]))} of the "
                         f"interactions and gets {format_percent(sum(rec[half:]))} of the slots.")
    text = " ".join(facts)
    return (f'<section class="panel" id="long-tail"><h2>The long tail</h2><p class="lead-in">Items are sorted by '
            f"how often they were interacted with in training and split into {bins} groups of equal size. A model "
            f"that only echoes popularity has blue bars as tall as the grey ones; blue taller than grey further "
            f"right means it reaches into the long tail. {_e(text)}</p>{_figure(chart)}</section>")


def _trial_tip(t: dict) -> str:
    params = ", ".join(f"{k}={v}" for k, v in sorted((t.get("hyperparameters") or {}).items()))
    bits = [f"trial {t.get('trialNumber')}", f"{metric_label(str(t.get('metricName', 'metric')))} "
            f"{format_metric(t.get('validationMetric'))}"]
    if params:
        bits.append(params)
    if _num(t.get("seconds")) is not None:
        bits.append(_seconds(t["seconds"]))
    if t.get("budget") is not None:
        bits.append(f"budget {t['budget']}")
    if t.get("status"):
        bits.append(str(t["status"]))
    return " · ".join(bits)


def _hpo(view: _View) -> str:
    out = [_hpo_version(v) for v in view.with_trials()]
    if not any(out):
        return ""
    return ('<section class="panel" id="hpo"><h2>Hyperparameter optimisation</h2><p class="lead-in">Trials are '
            "scored on validation users carved out of the training users (never the test users).</p>"
            f'{"".join(out)}</section>')


def _is_chosen(trial: dict, chosen: dict) -> bool:
    """The trial whose hyperparameters are the ones HPO picked."""
    hp = trial.get("hyperparameters") or {}
    return bool(chosen) and all(str(hp.get(k)) == str(val) for k, val in chosen.items() if k in hp)


def _hpo_version(v: dict) -> str:
    """One version's trials: the metric by trial number, then each varied parameter vs the metric."""
    trials = sorted((t for t in v["hpoTrials"] if isinstance(t, dict)),
                    key=lambda t: _num(t.get("trialNumber")) or 0)
    scored = [t for t in trials if _num(t.get("validationMetric")) is not None]
    if not scored:
        return ""
    metric = metric_label(str(scored[0].get("metricName") or "validation metric"))
    done = [t for t in scored if t.get("status") != "STOPPED_EARLY"]
    stopped = [t for t in scored if t.get("status") == "STOPPED_EARLY"]
    running, best_so_far = -math.inf, []
    for t in scored:
        running = max(running, _num(t["validationMetric"]))
        best_so_far.append(running)
    series = [svg.Series("Best so far", [t["trialNumber"] for t in scored], best_so_far, color=svg.BASELINE,
                         dashed=True, points=False)]
    for name, group, color, marker in (("Completed", done, svg.PALETTE[0], "circle"),
                                       ("Stopped early", stopped, svg.PALETTE[3], "triangle")):
        if group:
            series.append(svg.Series(name, [t["trialNumber"] for t in group],
                                     [t["validationMetric"] for t in group], tips=[_trial_tip(t) for t in group],
                                     color=color, marker=marker, line=False))
    tag = _tail(v.get("solutionVersionArn"))
    figures = [_figure(svg.line_chart(series, title=f"{metric} by trial ({_label(v)})", x_label="trial number",
                                      y_label=metric, x_scale="linear", chart_id=f"hpo-{tag}-trials",
                                      desc=f"Validation {metric} of each HPO trial in order, and the best so far."),
                       "The dashed line is the best value so far. Hover a point for its hyperparameters.")]
    tuned = v.get("tunedHPOParams") if isinstance(v.get("tunedHPOParams"), dict) else {}
    chosen = dict(tuned.get("algorithmHyperParameters") or {})
    params = sorted({k for t in scored for k in (t.get("hyperparameters") or {})})
    varied = [k for k in params if len({str((t.get("hyperparameters") or {}).get(k)) for t in scored}) > 1]
    for k in varied:
        pts = [t for t in scored if (t.get("hyperparameters") or {}).get(k) is not None]
        few = len({str(t["hyperparameters"][k]) for t in pts}) <= 5       # a handful of values: columns
        picked = [t for t in pts if _is_chosen(t, chosen)]
        rest = [t for t in pts if not _is_chosen(t, chosen)]
        s = [svg.Series(name, [t["hyperparameters"][k] for t in group], [t["validationMetric"] for t in group],
                        tips=[_trial_tip(t) for t in group], color=color, marker=marker)
             for name, group, color, marker in (("Trials", rest, svg.PALETTE[0], "circle"),
                                                ("Chosen trial", picked, svg.PALETTE[1], "diamond")) if group]
        figures.append(_figure(svg.scatter_chart(s, title=f"{k} vs {metric}", x_label=k, y_label=metric,
                                                 chart_id=f"hpo-{tag}-{k}", x_scale="category" if few else "auto",
                                                 desc=f"Validation {metric} of each trial against its {k}.")))
    chips = "".join(f'<span class="chip"><span class="k">{_e(k)}</span> {_e(val)}</span>'
                    for k, val in sorted(chosen.items()))
    table = f'<p class="chosen">Chosen: {chips}</p>' if chips else ""
    return (f'<div class="hpo-version"><h3>{_e(_label(v))}: {len(trials)} trials</h3>{table}'
            f'<div class="charts">{"".join(figures)}</div></div>')


def _automl(view: _View) -> str:
    candidates = view.solution.get("autoMLCandidates")
    if not isinstance(candidates, list) or not candidates:
        return ""
    best = (view.solution.get("autoMLResult") or {}).get("bestRecipeArn")
    rows, labels, values, tips = [], [], [], []
    for c in candidates:
        recipe = _tail(c.get("recipeArn"))
        params = ", ".join(f"{k}={v}" for k, v in sorted((c.get("hyperparameters") or {}).items()))
        mark = ' class="best"' if best and c.get("recipeArn") == best else ""
        rows.append(f"<tr{mark}><th scope=\"row\">{_e(recipe)}{' ★' if mark else ''}</th>"
                    f"<td>{_e(metric_label(str(c.get('metricName') or '')))}</td>"
                    f"<td>{format_metric(c.get('validationMetric'))}</td><td class=\"params\">{_e(params)}</td></tr>")
        labels.append(recipe)
        values.append(c.get("validationMetric"))
        tips.append(f"{recipe}: {format_metric(c.get('validationMetric'))}")
    chart = svg.bar_chart(labels, [svg.Series("validation metric", labels, values, tips=tips)],
                          title="AutoML candidates", x_label="recipe", y_label="validation metric",
                          chart_id="automl", desc="Validation metric of each recipe AutoML tried.")
    table = ('<table class="candidates"><thead><tr><th scope="col">Recipe</th><th scope="col">Metric</th>'
             f'<th scope="col">Validation</th><th scope="col">Hyperparameters</th></tr></thead><tbody>{"".join(rows)}'
             "</tbody></table>")
    return f'<section class="panel" id="automl"><h2>AutoML</h2>{table}{_figure(chart)}</section>'


def _version_details(view: _View) -> str:
    items = []
    for v in reversed(view.versions):
        facts = [("ARN", v.get("solutionVersionArn")), ("Status", v.get("status")),
                 ("Training mode", v.get("trainingMode")), ("Created", _when(v.get("creationDateTime"))),
                 ("Training time", _seconds(v.get("trainingSeconds")) if v.get("trainingSeconds") is not None else None)]
        ev = view.evaluation(v)
        split = ev.get("split") if isinstance(ev.get("split"), dict) else {}
        if split:
            parts = [f"{split['method']}" if split.get("method") else None,
                     f"{_count(split['trainUsers'])} training users" if split.get("trainUsers") is not None else None,
                     f"{_count(split['testUsers'])} test users" if split.get("testUsers") is not None else None,
                     f"{_count(split['truthInteractions'])} held-out interactions"
                     if split.get("truthInteractions") is not None else None,
                     f"seed {split['seed']}" if split.get("seed") is not None else None]
            facts.append(("Evaluation split", ", ".join(p for p in parts if p)))
        if _num(ev.get("seconds")) is not None:
            facts.append(("Evaluation time", _seconds(ev["seconds"])))
        if ev.get("fromVersion"):
            facts.append(("Metrics from", _label({"solutionVersionArn": ev["fromVersion"]})
                          + " (an UPDATE version keeps its FULL version's metrics)"))
        if ev.get("skipped"):
            facts.append(("Metrics skipped", ev["skipped"]))
        hp = ((v.get("solutionConfig") or {}).get("algorithmHyperParameters") or {}) \
            if isinstance(v.get("solutionConfig"), dict) else {}
        if hp:
            facts.append(("Hyperparameters", ", ".join(f"{k}={val}" for k, val in sorted(hp.items()))))
        if v.get("failureReason"):
            facts.append(("Failure reason", v["failureReason"]))
        dl = "".join(f"<dt>{_e(k)}</dt><dd>{_e(val)}</dd>" for k, val in facts if val not in (None, ""))
        tone = " failed" if "FAILED" in str(v.get("status", "")) else ""
        items.append(f'<details class="version{tone}"{" open" if tone else ""}><summary>{_e(_label(v))} '
                     f"{_status_badge(v.get('status'))}</summary><dl>{dl}</dl></details>")
    return f'<section class="panel" id="versions"><h2>Versions</h2>{"".join(items)}</section>'


def _footer(view: _View) -> str:
    when = f" on {_e(_when(view.generated))} UTC" if view.generated else ""
    return (f"<footer>Made by pypersonalize{when}. Offline metrics are estimates from a held-out split; "
            "confirm with an A/B test before trusting small differences.</footer>")


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<main>
{body}
</main>
</body>
</html>
"""

_CSS = """
:root { --ink: #1F2328; --muted: #57606A; --line: #D8DEE4; --bg: #F3F5F8; --accent: #0072B2;
  --good: #1A7F37; --bad: #B42318; --best: #E3F1FB; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1140px; margin: 0 auto; padding: 28px 24px 56px; }
h2 { font-size: 20px; margin: 0 0 8px; }
h3 { font-size: 16px; margin: 18px 0 8px; }
.hero { background: linear-gradient(135deg, #0B3954 0%, #0072B2 100%); color: #FFF; border-radius: 16px;
  padding: 26px 30px 22px; box-shadow: 0 6px 24px rgba(11, 57, 84, .18); }
.hero h1 { margin: 2px 0 2px; font-size: 32px; letter-spacing: -.01em; }
.eyebrow { margin: 0; text-transform: uppercase; letter-spacing: .09em; font-size: 12px; opacity: .8; }
.arn { margin: 0 0 14px; font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; opacity: .75;
  word-break: break-all; }
.facts { display: flex; flex-wrap: wrap; gap: 10px 44px; margin: 0; }
.facts dt { font-size: 12px; opacity: .75; }
.facts dd { margin: 0; font-weight: 600; white-space: nowrap; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(165px, 1fr)); gap: 14px; margin: 20px 0; }
.card { background: #FFF; border: 1px solid var(--line); border-radius: 12px; padding: 14px 18px; }
.card .label { color: var(--muted); font-size: 13px; font-weight: 600; }
.card .value { font-size: 30px; font-weight: 700; font-variant-numeric: tabular-nums; line-height: 1.25; }
.card .sub { color: var(--muted); font-size: 13px; }
.card.lead { border-top: 4px solid var(--accent); }
.card.warn { border-top: 4px solid var(--bad); }
.up { color: var(--good); } .down { color: var(--bad); } .same { color: var(--muted); }
.panel { background: #FFF; border: 1px solid var(--line); border-radius: 12px; padding: 20px 24px;
  margin: 20px 0; }
.lead-in { color: var(--muted); margin: 0 0 14px; max-width: 80ch; }
.note { color: var(--muted); font-style: italic; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; font-size: 14px; }
th, td { padding: 8px 9px; border-bottom: 1px solid var(--line); text-align: right; vertical-align: top;
  white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead th { font-size: 13px; color: var(--muted); border-bottom: 2px solid var(--line); white-space: nowrap; }
abbr { text-decoration: none; }
tbody th { font-weight: 600; white-space: nowrap; }
.vlabel { font-size: 15px; }
.when { display: block; font-weight: 400; font-size: 12px; color: var(--muted); }
td.best { background: var(--best); font-weight: 700; }
.star { color: #B35900; font-size: 11px; vertical-align: 1px; }
.ratio { display: block; font-size: 12px; font-weight: 400; }
td.failure, td.nometrics { white-space: normal; }
td.failure { text-align: left; color: var(--bad); background: #FEF3F2; }
td.nometrics, td.missing { text-align: left; color: var(--muted); font-style: italic; }
tr.baseline th, tr.baseline td { background: #F6F8FA; color: var(--muted); border-top: 2px solid var(--line); }
.badge { display: inline-block; border-radius: 999px; padding: 0 8px; font-size: 11px; font-weight: 700;
  letter-spacing: .02em; vertical-align: 2px; }
.badge.ok { background: #DAFBE1; color: #116329; }
.badge.bad { background: #FFEBE9; color: #A40E26; }
.badge.muted { background: #EAEEF2; color: var(--muted); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 18px; }
figure { margin: 0; }
svg.chart { width: 100%; height: auto; display: block; border: 1px solid #EEF1F4; border-radius: 8px; }
svg.chart .point:hover, svg.chart .bar:hover { opacity: .75; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; }
table.candidates { width: auto; min-width: 320px; margin-bottom: 12px; }
.chosen { margin: 0 0 12px; color: var(--muted); }
.chip { display: inline-block; background: #F1F4F8; border: 1px solid var(--line); border-radius: 6px;
  padding: 1px 8px; margin: 2px 4px 2px 0; color: var(--ink);
  font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.chip .k { color: var(--muted); }
td.params { text-align: left; font-family: ui-monospace, SFMono-Regular, Menlo, monospace;
  font-size: 13px; }
tr.best th, tr.best td { background: var(--best); }
details.version { border-top: 1px solid var(--line); padding: 8px 0; }
details.version summary { cursor: pointer; font-weight: 600; }
details.version dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 8px 0 0 18px; }
details.version dt { color: var(--muted); }
details.version dd { margin: 0; word-break: break-word; }
details.failed dd { color: var(--ink); }
.empty pre { background: #F6F8FA; border-radius: 8px; padding: 12px 16px; overflow-x: auto; }
footer { color: var(--muted); font-size: 13px; text-align: center; margin-top: 28px; }
@media (max-width: 560px) { .charts { grid-template-columns: 1fr; } .hero h1 { font-size: 26px; } }
@media print { body { background: #FFF; } .panel, .card { break-inside: avoid; box-shadow: none; }
  .hero { color: #000; background: none; border: 1px solid var(--line); } details.version { display: block; } }
"""

__all__ = ["collect", "format_metric", "format_percent", "metric_label", "primary_metric", "render",
           "write_report"]
