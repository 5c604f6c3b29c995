"""`pypersonalize report`: the HTML report of a solution.

``render`` is a pure function of ``collect``'s dict, so most of its behaviour is checked on
hand-made dicts of the API's shapes. End to end, a small real solution is trained, the CLI
writes the report, and a headless Chromium (Debian's /usr/bin/chromium, driven over the
DevTools protocol on a pipe: no Python dependency, no port) opens it: the page must load with
no console message, script error or network request, and its visible text must show every
metric get_solution_metrics returns. The browser tests skip when Chromium is absent.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import select
import shutil
import struct
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import pypersonalize
from pypersonalize import report
from pypersonalize.cli import main
from tests.conftest import build_sample_group

pytestmark = pytest.mark.offline_metrics

ARN = "arn:aws:personalize:local:000000000000:solution/picks"
CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (apt-get install chromium)")


# -- hand-made data of the API's shapes ----------------------------------------------------------

def _metrics(scale: float) -> dict:
    base = {"coverage": 0.31, "mean_reciprocal_rank_at_25": 0.21, "normalized_discounted_cumulative_gain_at_5": 0.17,
            "normalized_discounted_cumulative_gain_at_10": 0.19, "normalized_discounted_cumulative_gain_at_25": 0.24,
            "precision_at_5": 0.08, "precision_at_10": 0.065, "precision_at_25": 0.041}
    return {k: round(v * scale, 6) for k, v in base.items()}


def _evaluation(scale: float) -> dict:
    return {"split": {"method": "users", "trainUsers": 540, "testUsers": 60, "truthInteractions": 713, "seed": 42},
            "seconds": 1.42, "baseline": {"recipe": "aws-popularity-count", "metrics": _metrics(0.5)},
            "longTail": {"bins": 4, "catalogShare": [0.6, 0.25, 0.1, 0.05], "recommendedShare": [0.4, 0.3, 0.2, 0.1]}}


def _trials() -> list[dict]:
    return [{"trialNumber": n, "hyperparameters": {"learning_rate": lr, "hidden_dimension": hd, "bptt": "32"},
             "metricName": "normalized_discounted_cumulative_gain_at_10", "validationMetric": m, "seconds": 0.5,
             "status": status, "budget": 1.0}
            for n, lr, hd, m, status in ((1, "0.001", "64", 0.11, "COMPLETED"), (2, "0.01", "128", 0.14, "COMPLETED"),
                                         (3, "0.1", "32", 0.09, "STOPPED_EARLY"))]


def sample(**solution) -> dict:
    """v1 ACTIVE, v2 failed, v3 ACTIVE and tuned by HPO (the best)."""
    return {"solution": {"name": "picks", "solutionArn": ARN, "status": "ACTIVE",
                         "recipeArn": "arn:aws:personalize:::recipe/aws-user-personalization",
                         "datasetGroupArn": "arn:aws:personalize:local:000000000000:dataset-group/movies", **solution},
            "generatedAt": "2025-01-03T12:00:00+00:00",
            "versions": [
                {"solutionVersionArn": ARN + "/1", "status": "ACTIVE", "creationDateTime": "2025-01-02T10:01:00",
                 "trainingSeconds": 3.2, "metrics": _metrics(1.0), "evaluation": _evaluation(1.0)},
                {"solutionVersionArn": ARN + "/2", "status": "CREATE FAILED",
                 "failureReason": "not enough data to train: <fewer> than 25 users"},
                {"solutionVersionArn": ARN + "/3", "status": "ACTIVE", "trainingSeconds": 9.0,
                 "metrics": _metrics(1.1), "evaluation": _evaluation(1.1), "hpoTrials": _trials(),
                 "tunedHPOParams": {"algorithmHyperParameters": _trials()[1]["hyperparameters"]}}]}


def text_of(page: str) -> str:
    """The page's text, roughly as a browser shows it (tags out, entities in)."""
    import html
    body = re.sub(r"<(style|svg)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def section(page: str, ident: str) -> str:
    found = re.search(rf'<section [^>]*id="{ident}".*?</section>', page, re.S)
    assert found, f"no section {ident}"
    return found.group(0)


# -- render: pure, from dicts ------------------------------------------------------------------

def test_metrics_table_has_every_value_the_best_per_column_and_the_baseline():
    page = report.render(sample())
    table = section(page, "metrics")
    rows = re.findall(r"<tr.*?</tr>", table, re.S)
    assert len(rows) == 1 + 3 + 1                            # header, three versions, baseline
    for version in (sample()["versions"][0], sample()["versions"][2]):
        for value in version["metrics"].values():
            assert report.format_metric(value) in text_of(table)
    best = re.findall(r'<td class="best">.*?</td>', rows[3], re.S)
    assert len(best) == 8 and not re.findall(r'<td class="best">', rows[1])   # v3 wins every column
    assert "Popularity-Count baseline" in rows[4] and report.format_metric(0.19 * 0.5) in text_of(rows[4])
    assert "2.00×" in text_of(rows[1]) and "2.20×" in text_of(rows[3])        # ratio to its own baseline


def test_header_cards_and_plots():
    page = report.render(sample())
    header = text_of(re.search(r"<header.*?</header>", page, re.S).group(0))
    assert "picks" in header and "aws-user-personalization" in header and "movies" in header
    cards = text_of(re.search(r'<section class="cards".*?</section>', page, re.S).group(0))
    assert f"Best NDCG@10 {report.format_metric(0.19 * 1.1)}" in cards and "v3" in cards
    assert "Coverage 34.1%" in cards and "3 2 active · 1 create failed" in cards and "HPO trials 3" in cards
    for ident in ("metrics-bars", "coverage-bars", "primary-line", "long-tail", "hpo-3-trials"):
        assert f'aria-labelledby="{ident}-t {ident}-d"' in page, ident
    long_tail = section(page, "long-tail")
    assert "draw 60.0% of the training interactions and get 40.0% of the recommendation slots" in text_of(long_tail)
    assert long_tail.count("<rect") >= 8 + 1


def test_failed_version_shows_its_reason_escaped():
    page = report.render(sample())
    assert "Failed: not enough data to train: &lt;fewer&gt; than 25 users" in section(page, "metrics")
    assert "<fewer>" not in page


def test_hpo_section_only_for_versions_with_trials():
    page = report.render(sample())
    hpo = section(page, "hpo")
    assert "v3: 3 trials" in text_of(hpo) and "v1:" not in text_of(hpo)
    for param in ("learning_rate", "hidden_dimension"):                # the ones the trials varied
        assert f"{param} vs NDCG@10" in hpo
    assert "bptt vs" not in hpo                                        # the same in every trial
    assert hpo.count("<title>trial ") >= 3 * 3                         # trial chart + two scatters
    assert "Chosen trial" in hpo and "STOPPED_EARLY" in hpo
    plain = sample()
    for v in plain["versions"]:
        v.pop("hpoTrials", None)
        v.pop("tunedHPOParams", None)
    assert 'id="hpo"' not in report.render(plain)


def test_no_versions_gives_a_clear_message_and_no_charts():
    page = report.render({"solution": {"name": "fresh", "solutionArn": ARN}, "versions": []})
    assert "No solution versions yet" in page and "pypersonalize solution-version create fresh" in text_of(page)
    assert "<svg" not in page and 'id="metrics"' not in page


def test_versions_without_metrics_say_why():
    data = sample()
    data["versions"] = [{"solutionVersionArn": ARN + "/1", "status": "ACTIVE", "metrics": {},
                         "evaluation": {"skipped": "fewer than 10 users with 2 events"}},
                        {"solutionVersionArn": ARN + "/2", "status": "CREATE IN_PROGRESS"}]
    page = report.render(data)
    assert "No metrics: fewer than 10 users with 2 events" in text_of(page)
    assert "No metrics: still training" in text_of(page)
    assert 'id="charts"' not in page and 'id="long-tail"' not in page


def test_missing_keys_and_odd_values_are_tolerated():
    for data in ({}, {"solution": {}}, {"versions": [{}]},
                 {"versions": [{"solutionVersionArn": "x/1", "status": "ACTIVE", "metrics": {"hit": "nan", "recall": None}}]},
                 {"versions": [{"solutionVersionArn": "x/1", "status": "ACTIVE", "metrics": {"hit": 0.5},
                                "evaluation": {"split": "?", "baseline": None, "longTail": {"bins": 0}},
                                "hpoTrials": [{"trialNumber": 1}], "tunedHPOParams": "?"}]}):
        page = report.render(data)
        assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_other_recipe_types_show_their_own_metrics():
    data = {"solution": {"name": "trend", "solutionArn": ARN},
            "versions": [{"solutionVersionArn": ARN + "/1", "status": "ACTIVE",
                          "metrics": {"trend_prediction_accuracy": 0.4321, "coverage": 0.05},
                          "evaluation": {"baseline": {"metrics": {"trend_prediction_accuracy": 0.2}}}}]}
    page = report.render(data)
    assert "Trend accuracy" in page and "0.4321" in text_of(section(page, "metrics")) and "2.16×" in page
    assert "Best Trend accuracy" in text_of(page)


def test_automl_candidates_are_listed_with_the_winner_marked():
    data = sample(autoMLResult={"bestRecipeArn": "arn:aws:personalize:::recipe/aws-user-personalization"},
                  autoMLCandidates=[{"recipeArn": "arn:aws:personalize:::recipe/aws-user-personalization",
                                     "metricName": "normalized_discounted_cumulative_gain_at_10",
                                     "validationMetric": 0.2, "hyperparameters": {"hidden_dimension": "64"}},
                                    {"recipeArn": "arn:aws:personalize:::recipe/aws-sims", "metricName":
                                     "normalized_discounted_cumulative_gain_at_10", "validationMetric": 0.12}])
    automl = section(report.render(data), "automl")
    assert '<tr class="best"><th scope="row">aws-user-personalization ★' in automl and "aws-sims" in automl
    assert "0.2000" in automl and "hidden_dimension=64" in automl


def test_the_page_is_self_contained():
    page = report.render(sample())
    assert_self_contained(page)


def assert_self_contained(page: str) -> None:
    lowered = page.lower()
    for needle in ("<script", "<link", "<iframe", "<img", "@import", "url(", " src=", " href="):
        assert needle not in lowered, needle
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) <= {"http://www.w3.org/2000/svg"}


# -- collect: the public API only, tolerant -------------------------------------------------------

class _FakeProject:
    """The four read calls collect makes, one failing, as a project of another build might."""

    def describe_solution(self, solution):
        return {"solution": {"name": solution, "solutionArn": ARN}}

    def list_solution_versions(self, solution):
        assert solution == ARN
        return {"solutionVersions": [{"solutionVersionArn": ARN + "/2", "status": "ACTIVE"},
                                     {"solutionVersionArn": ARN + "/1", "status": "CREATE FAILED",
                                      "failureReason": "boom"}]}

    def describe_solution_version(self, arn):
        if arn.endswith("/1"):
            raise pypersonalize.ResourceNotFound("gone")
        return {"solutionVersion": {"solutionVersionArn": arn, "status": "ACTIVE", "evaluation": {"seconds": 1}}}

    def get_solution_metrics(self, arn):
        return {"solutionVersionArn": arn, "metrics": {"hit": 0.5}}


def test_collect_reads_every_version_in_order_and_survives_errors():
    data = report.collect(_FakeProject(), "picks")
    assert [v["solutionVersionArn"][-1] for v in data["versions"]] == ["1", "2"]
    assert data["versions"][0]["failureReason"] == "boom" and data["versions"][0]["metrics"] == {}
    assert data["versions"][1]["metrics"] == {"hit": 0.5} and data["versions"][1]["evaluation"] == {"seconds": 1}
    assert "0.5000" in report.render(data)


# -- end to end: a real solution, the CLI, a real browser -------------------------------------------

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """picks: two versions of User-Personalization on the sample data; empty: none; starved:
    one failed version (a group with no data)."""
    folder = tmp_path_factory.mktemp("report")
    db = folder / "p.duckdb"
    with pypersonalize.open(db, quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies", types=("Interactions", "Items"))
        pp.create_solution(name="picks", dataset_group="movies", recipe="aws-user-personalization")
        arns = [pp.create_solution_version("picks")["solutionVersionArn"] for _ in range(2)]
        metrics = {arn: pp.get_solution_metrics(arn)["metrics"] for arn in arns}
        pp.create_solution(name="empty", dataset_group="movies", recipe="aws-popularity-count")
        build_sample_group(pp, "VIDEO_ON_DEMAND", "bare", types=("Interactions",), import_data=False)
        pp.create_solution(name="starved", dataset_group="bare", recipe="aws-popularity-count")
        with pytest.raises(pypersonalize.PypersonalizeError):
            pp.create_solution_version("starved")
    return {"db": db, "folder": folder, "metrics": metrics}


def cli(trained, *args):
    return CliRunner().invoke(main, ["--db", str(trained["db"]), *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def written(trained):
    out = trained["folder"] / "picks.html"
    result = cli(trained, "--read-only", "--format", "json", "report", "--solution", "picks", "--output", str(out))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["report"] == str(out) and summary["solutionVersions"] == 2
    return out


def test_cli_writes_one_self_contained_file_with_every_metric(trained, written):
    page = written.read_text()
    assert_self_contained(page)
    assert trained["metrics"] and all(trained["metrics"].values()), "training gave no offline metrics"
    table = text_of(section(page, "metrics"))
    for found in trained["metrics"].values():
        for value in found.values():
            assert report.format_metric(value) in table
    assert 'id="long-tail"' in page and "Popularity-Count baseline" in page


def test_cli_reports_a_solution_without_versions_and_a_failed_one(trained):
    for name, expected in (("empty", "No solution versions yet"), ("starved", "Failed: ")):
        out = trained["folder"] / f"{name}.html"
        assert cli(trained, "report", "--solution", name, "--output", str(out)).exit_code == 0
        assert expected in out.read_text(), name


def test_cli_errors_are_one_line(trained, tmp_path):
    missing = cli(trained, "report", "--solution", "nope", "--output", str(tmp_path / "x.html"))
    assert missing.exit_code == 1 and "nope" in missing.output and len(missing.output.strip().splitlines()) == 1
    unwritable = cli(trained, "report", "--solution", "picks", "--output", str(tmp_path / "no" / "dir" / "x.html"))
    assert unwritable.exit_code == 1 and "cannot write" in unwritable.output
    assert cli(trained, "report", "--solution", "picks").exit_code == 2           # --output is required


@needs_chromium
def test_report_renders_in_chromium_with_no_errors_and_shows_the_metrics(trained, written, tmp_path):
    shot = Path(os.environ.get("PYPERSONALIZE_REPORT_SCREENSHOT") or tmp_path / "report.png")
    seen = browse(written.resolve().as_uri(), tmp_path / "profile", screenshot=shot)
    assert seen["problems"] == []
    for found in trained["metrics"].values():
        for name, value in found.items():
            assert report.format_metric(value) in seen["text"], name
    assert "Offline metrics" in seen["text"] and "The long tail" in seen["text"]
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width == 1280 and height > 1500 and len(png) > 50_000          # a whole page, not a blank one


@needs_chromium
def test_the_browser_check_sees_errors_and_requests(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><p>0.1234</p><img src="http://example.invalid/x.png">'
                   '<script>console.error("boom"); missing();</script>')
    seen = browse(bad.as_uri(), tmp_path / "profile")
    kinds = " | ".join(seen["problems"])
    assert "console.error: boom" in kinds and "missing" in kinds and "http://example.invalid/x.png" in kinds
    assert seen["text"] == "0.1234"


# -- the browser: headless Chromium over --remote-debugging-pipe ------------------------------------

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--remote-debugging-pipe")


class Chromium:
    """One browser. With --remote-debugging-pipe it reads DevTools commands on fd 3 and writes
    answers and events on fd 4, each a JSON message ended by a NUL byte."""

    def __init__(self, profile: Path, timeout: float = 30.0):
        self.timeout, self.events, self._id, self._buf = timeout, [], 0, b""
        to_browser, from_browser = os.pipe(), os.pipe()
        # high copies, so that placing them on 3 and 4 in the child cannot overwrite one another
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 20) for fd in (to_browser[0], from_browser[1])]

        def wire():
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)
        self.proc = subprocess.Popen([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, pass_fds=(3, 4), preexec_fn=wire)
        for fd in (to_browser[0], from_browser[1], *high):
            os.close(fd)
        self._w, self._r = to_browser[1], from_browser[0]

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._w, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._next()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str) -> dict:
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._next()
            self.events.append(event)
            if event.get("method") == method:
                return event

    def _next(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buf += chunk
        message, self._buf = self._buf.split(b"\0", 1)
        return json.loads(message)

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._w)
        os.close(self._r)


def browse(url: str, profile: Path, screenshot: Path | None = None, width: int = 1280) -> dict:
    """Open ``url`` in a fresh profile: the page's visible text (``innerText``), what went
    wrong (console errors and warnings, uncaught exceptions, browser log errors, any request
    that is not file:/data:/about:), and optionally a full-page PNG."""
    browser = Chromium(profile)
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.call(f"{domain}.enable", session=session)
        browser.call("Emulation.setDeviceMetricsOverride",
                     {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session)
        browser.call("Page.navigate", {"url": url}, session)
        browser.wait_event("Page.loadEventFired")
        text = browser.call("Runtime.evaluate", {"expression": "document.body.innerText", "returnByValue": True},
                            session)["result"]["value"]
        if screenshot is not None:
            size = browser.call("Page.getLayoutMetrics", session=session)["cssContentSize"]
            shot = browser.call("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": size["height"], "scale": 1}}, session)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        return {"text": text, "problems": _problems(browser.events)}
    finally:
        browser.close()
        shutil.rmtree(profile, ignore_errors=True)


def _problems(events: list[dict]) -> list[str]:
    out = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
            args = " ".join(str(a.get("value", a.get("description"))) for a in params.get("args", []))
            out.append(f"console.{params['type']}: {args}")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            out.append(f"exception: {details.get('text')} {details.get('exception', {}).get('description', '')}")
        elif method == "Log.entryAdded" and params["entry"].get("level") in ("error", "warning"):
            out.append(f"log {params['entry']['level']}: {params['entry'].get('text')}")
        elif method == "Network.requestWillBeSent":
            requested = params["request"]["url"]
            if requested.split(":", 1)[0] not in ("file", "data", "about"):
                out.append(f"network request: {requested}")
    return out
