"""Amazon's sample notebooks, replayed call by call against pypersonalize's boto3-shaped clients.

``tests/data/notebooks/*.calls.json`` hold the boto3 call sequences of pinned notebooks of
aws-samples/amazon-personalize-samples (Getting-Started 1-2, POC-in-a-box 01-05), extracted
from the notebooks' code by ``tests/data/notebooks/extract.py``. Each notebook is replayed in
order on a fresh project, the notebooks of one series sharing their variables as the
notebooks' ``%store`` does. Only client creation changes: the notebook's ``boto3.client(...)``
variables are bound to pypersonalize's clients (see :func:`make_clients`, one per transport).
Every call is made with the notebook's own method and parameter names and values; values are
computed from the notebook's own assignments in a restricted namespace (earlier responses and
assignments, a few builtins, ``json``/``time``/``uuid`` functions). What a notebook reads from
AWS or from MovieLens (bucket, role, account, the users and items it samples) is given in
``LOCAL_VALUES``; the files it uploads are written, from the project's own sample data shaped
to the notebook's schemas, to ``s3_root/<bucket>/<key>`` of the ``s3://`` paths it names.
IAM, S3, STS and SSM calls are skipped (a downloaded file must exist); a ``while`` polling loop
makes its describe call once, and the status must be ACTIVE.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import time
import uuid
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import pypersonalize
from pypersonalize import aws_model, sample_data
from pypersonalize.clients import snake

NOTEBOOKS = Path(__file__).resolve().parent.parent / "data" / "notebooks"
PERSONALIZE = ("personalize", "personalize-runtime", "personalize-events")
SERIES = {
    "getting-started": ["1.Building_Your_First_Campaign", "2.View_Campaign_And_Interactions"],
    "poc-in-a-box": ["01_Validating_and_Importing_User_Item_Interaction_Data",
                     "02_Validating_and_Importing_Item_Metadata", "03_Creating_and_Evaluating_Solutions",
                     "04_Deploying_Campaigns_and_Filters", "05_Interacting_with_Campaigns_and_Filters"],
}
ACCOUNT = "123456789012"

# Output members Personalize leaves out when they do not apply (a custom group has no domain).
OPTIONAL_OUTPUT = {"nextToken", "CreateDatasetGroup.domain"}

# The sample data, shaped like MovieLens as the notebooks prepare it: numeric ids.
N_USERS, N_ITEMS, SEED = 150, 600, 7


def _data():
    frames = sample_data.video_on_demand(n_users=N_USERS, n_items=N_ITEMS, seed=SEED)
    inter, items = frames["interactions"].copy(), frames["items"].copy()
    inter["USER_ID"] = inter["USER_ID"].str[1:]
    inter["ITEM_ID"] = inter["ITEM_ID"].str[1:]
    inter["EVENT_TYPE"] = inter["EVENT_TYPE"].str.lower()           # MovieLens-derived: click / watch
    items["ITEM_ID"] = items["ITEM_ID"].str[1:]
    items["GENRE"] = items["GENRES"]
    items["YEAR"] = np.random.default_rng(SEED).integers(1930, 2019, size=len(items))   # a release year
    users = inter["USER_ID"].value_counts()
    genres = sorted({g for value in items["GENRE"] for g in value.split("|")})
    return SimpleNamespace(
        # Getting-Started 1 keeps USER_ID, ITEM_ID, TIMESTAMP; POC 01 writes its frame's column order
        gs_interactions=inter[["USER_ID", "ITEM_ID", "TIMESTAMP"]],
        poc_interactions=inter[["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"]],
        poc_items=items[["ITEM_ID", "GENRE", "YEAR"]],
        item_ids=set(items["ITEM_ID"]) | set(inter["ITEM_ID"]),
        items=items.set_index("ITEM_ID"),
        interactions=inter,
        busiest=[int(u) for u in users.index[:3]],
        genres=genres)


DATA = _data()

# What the notebooks take from AWS (SSM parameters, STS, IAM) or sample from MovieLens.
LOCAL_VALUES = {
    "1.Building_Your_First_Campaign": {
        "bucket": "personalize-demo-bucket",
        "personalizeiamrolearn": f"arn:aws:iam::{ACCOUNT}:role/PersonalizeRole",
        "user_id": DATA.busiest[0]},
    "01_Validating_and_Importing_User_Item_Interaction_Data": {
        "region": "us-east-1", "account_id": ACCOUNT,
        "role_arn": f"arn:aws:iam::{ACCOUNT}:role/PersonalizeRolePOC"},
    "04_Deploying_Campaigns_and_Filters": {"genres_to_filter": DATA.genres[:7]},
    "05_Interacting_with_Campaigns_and_Filters": {
        "users": DATA.busiest,
        "movies": ["1", "2", "3"],
        "rerank_items": [str(i) for i in range(1, 26)]},
}

# The files the notebooks upload, by key: what is written to s3_root/<bucket>/<key>.
UPLOADS = {
    "movie-lens-100k.csv": lambda ns: DATA.gs_interactions.to_csv(index=False),
    "interactions.csv": lambda ns: DATA.poc_interactions.to_csv(index=False),
    "item-meta.csv": lambda ns: DATA.poc_items.to_csv(index=False),
    "json_input.json": lambda ns: "".join('{"userId": "' + str(u) + '"}\n' for u in ns["users"]),
}

# Gaps in pypersonalize the replays found: notebook -> the exact failing call and error.
GAPS: dict[str, str] = {}


def make_clients(transport: str, project, s3_root: Path) -> tuple[dict, object]:
    """The three clients the notebooks' ``boto3.client(...)`` calls become, and the server
    they talk to ("http": real boto3 clients of a ``pypersonalize serve`` on loopback)."""
    if transport == "in-process":
        return {s: pypersonalize.client(s, project=project, s3_root=s3_root) for s in PERSONALIZE}, None
    boto3 = pytest.importorskip("boto3", reason="boto3 (the test extra) replays the notebooks over HTTP")
    from botocore.config import Config

    from pypersonalize.server import serve
    server = serve(project, port=0, s3_root=s3_root, quiet=True)
    config = Config(retries={"max_attempts": 1}, read_timeout=120)
    return {s: boto3.client(s, endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="local",
                            aws_secret_access_key="local", config=config) for s in PERSONALIZE}, server


# -- the restricted namespace -------------------------------------------------------------

SAFE_BUILTINS = {f.__name__: f for f in (str, int, float, bool, len, list, dict, set, tuple, range,
                                          round, sorted, min, max, sum, abs, print)}
MODULES = {"json": SimpleNamespace(dumps=json.dumps, loads=json.loads),
           "time": SimpleNamespace(time=time.time),
           "uuid": SimpleNamespace(uuid1=uuid.uuid1, uuid4=uuid.uuid4)}


class Unresolved(Exception):
    """An expression of the notebook that the restricted namespace cannot evaluate."""


def _parse(source: str, mode: str = "exec") -> ast.AST:
    with warnings.catch_warnings():              # the notebooks' regexes: "\\(" in plain strings
        warnings.simplefilter("ignore", (DeprecationWarning, SyntaxWarning))
        return ast.parse(source, mode=mode)


def _code(source: str, mode: str):
    tree = _parse(source, mode)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                or isinstance(node, ast.Name) and node.id.startswith("__"):
            raise Unresolved(f"{source!r}: private names are not evaluated")
    return compile(tree, "<notebook>", mode)


def evaluate(source: str, ns: dict):
    try:
        return eval(_code(source, "eval"), ns)        # noqa: S307 - names limited to the namespace
    except Unresolved:
        raise
    except Exception as exc:
        raise Unresolved(f"{source!r}: {type(exc).__name__}: {exc}") from None


def execute(source: str, ns: dict) -> None:
    try:
        exec(_code(source, "exec"), ns)               # noqa: S102 - names limited to the namespace
    except Unresolved:
        raise
    except Exception as exc:
        raise Unresolved(f"{source!r}: {type(exc).__name__}: {exc}") from None


class Missing:
    """An argument the restricted namespace could not evaluate: any use of it fails."""

    def _refuse(self, *args, **kwargs):
        raise Unresolved("a value the notebook computed from its own data files")

    __str__ = __repr__ = __format__ = __bool__ = __iter__ = __len__ = __getitem__ = __getattr__ = _refuse
    __add__ = __radd__ = __eq__ = __lt__ = __gt__ = __contains__ = _refuse
    __hash__ = None


def _or_missing(source: str, ns: dict):
    try:
        return evaluate(source, ns)
    except Unresolved:
        return Missing()


def _targets(source: str) -> list[str]:
    """The plain names a statement assigns."""
    node = _parse(source).body[0]
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    names = []
    for target in targets:
        for sub in ast.walk(target) if target is not None else ():
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                names.append(sub.id)
    return names


# -- the replay ---------------------------------------------------------------------------

class Skipped:
    """A client of a service that is not Personalize (S3, IAM, SSM, STS)."""

    def __init__(self, service: str):
        self.service = service


class Replay:
    """One series of notebooks on one project: the shared namespace, the calls, the failures."""

    def __init__(self, series: str, transport: str, root: Path):
        self.series, self.root = series, root
        self.s3_root = root / "s3"
        self.s3_root.mkdir(parents=True, exist_ok=True)
        self.pp = pypersonalize.open(root / "project.duckdb", quiet=True)
        self.clients, self.server = make_clients(transport, self.pp, self.s3_root)
        self.ns = {"__builtins__": SAFE_BUILTINS, **MODULES}
        self.done: dict[str, list[str]] = {}
        self.calls: dict[str, int] = {}
        self.filters: dict[str, str] = {}
        self.events: list[tuple[str, str, str]] = []        # (user, item, event type) sent
        self.notebook = ""

    def close(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        self.pp.close()

    def run_through(self, notebook: str) -> list[str]:
        for name in SERIES[self.series]:
            if name not in self.done:
                self.run(name)
            if name == notebook:
                return self.done[name]
        raise KeyError(notebook)

    def run(self, notebook: str) -> None:
        self.notebook, self.failures, self.calls[notebook] = notebook, [], 0
        self.local = LOCAL_VALUES.get(notebook, {})
        recorded = json.loads((NOTEBOOKS / f"{notebook}.calls.json").read_text(encoding="utf-8"))
        self.block(recorded["steps"], self.ns, in_try=False)
        self.done[notebook] = self.failures

    # steps

    def block(self, steps: list[dict], ns: dict, in_try: bool) -> None:
        for step in steps:
            getattr(self, "step_" + step["kind"])(step, ns, in_try)

    def bind(self, names: list[str], ns: dict) -> bool:
        hits = [n for n in names if n in self.local]
        for name in hits:
            ns[name] = self.local[name]
        return bool(hits)

    def step_client(self, step, ns, in_try):
        service = step["service"]
        ns[step["name"]] = self.clients[service] if service in PERSONALIZE else Skipped(service)

    def step_assign(self, step, ns, in_try):
        if self.bind(_targets(step["source"]), ns):
            return
        try:
            execute(step["source"], ns)
        except Unresolved:
            if in_try:
                raise
            # a value the notebook computes from its own files (pandas): nothing calls with it

    def step_for(self, step, ns, in_try):
        try:
            values = list(evaluate(step["iter"], ns))   # a snapshot: polling loops remove as they go
        except Unresolved as exc:
            if _calls_in(step["body"]):
                self.fail(step, f"for {step['target']} in {step['iter']}: {exc}")
            return
        for v in values:
            ns[step["target"]] = v
            self.block(step["body"], ns, in_try)

    def step_if(self, step, ns, in_try):
        try:
            test = evaluate(step["test"], ns)
        except Unresolved as exc:
            if _calls_in(step["body"] + step["orelse"]):
                self.fail(step, f"if {step['test']}: {exc}")
            return
        self.block(step["body"] if test else step["orelse"], ns, in_try)

    def step_try(self, step, ns, in_try):
        # The handlers run when a statement of the body cannot be evaluated (a KeyError in a
        # dict lookup...); a client's error is never swallowed: a failing call is a gap.
        try:
            self.block(step["body"], ns, in_try=True)
        except Unresolved:
            self.block(step["handlers"], ns, in_try)

    def step_def(self, step, ns, in_try):
        defaults = {}
        for name, source in step["defaults"].items():
            try:
                defaults[name] = evaluate(source, ns)
            except Unresolved:
                pass
        ns[step["name"]] = SimpleNamespace(step=step, defaults=defaults)

    def step_invoke(self, step, ns, in_try):
        # An argument the namespace cannot evaluate (a DataFrame) is bound as Missing: the
        # function's calls fail only if they use it.
        function = ns[step["function"]]
        args = [_or_missing(a, ns) for a in step["args"]]
        kwargs = {k: _or_missing(v, ns) for k, v in step["kwargs"].items()}
        params = function.step["params"]
        local = {**ns, **function.defaults, **dict(zip(params, args)), **kwargs}
        self.block(function.step["body"], local, in_try=False)

    def step_call(self, step, ns, in_try):
        label = f"{step['client']}.{step['method']}"
        try:
            client = evaluate(step["client"], ns)
            args = [a["literal"] if "literal" in a else evaluate(a["expr"], ns) for a in step["args"]]
            kwargs = {k: v["literal"] if "literal" in v else evaluate(v["expr"], ns)
                      for k, v in step["kwargs"].items()}
            if any(isinstance(v, Missing) for v in _leaves(kwargs)):
                raise Unresolved("a value the notebook computed from its own data files")
        except Unresolved as exc:
            if not isinstance(ns.get(step["client"]), Skipped):
                self.fail(step, f"{label}(...): cannot resolve {exc}")
            elif step["assign"]:
                self.bind(_targets(f"{step['assign']} = None"), ns)
            return
        if isinstance(client, Skipped):
            self.skipped(client, step, args, kwargs, ns)
            return
        self.calls[self.notebook] += 1
        self.upload(kwargs, ns)
        try:
            response = getattr(client, step["method"])(**kwargs)
        except Exception as exc:
            self.fail(step, f"{label}({_show(kwargs)}) raised {type(exc).__name__}: {exc}")
            return
        if step["assign"]:
            ns[step["assign"]] = response
        try:
            self.check(step["service"], step["method"], kwargs, response)
        except AssertionError as exc:
            self.fail(step, f"{label}({_show(kwargs)}): {exc}")

    # the world outside Personalize

    def skipped(self, client: Skipped, step, args, kwargs, ns):
        if step["assign"]:
            self.bind(_targets(f"{step['assign']} = None"), ns)
        if client.service == "s3" and step["method"] == "download_file":
            bucket, key = (args + [kwargs.get("Bucket"), kwargs.get("Key")])[:2]
            if not (self.s3_root / bucket / key).is_file():
                self.fail(step, f"s3.download_file: s3://{bucket}/{key} was not written")

    def upload(self, kwargs: dict, ns: dict) -> None:
        """Write the files the notebook uploaded before the call that reads them."""
        for location in _strings(kwargs):
            if location.startswith("s3://"):
                bucket, _, key = location[len("s3://"):].partition("/")
                target = self.s3_root / bucket / key
                if key in UPLOADS and not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(UPLOADS[key](ns), encoding="utf-8")
                elif not key:
                    target.mkdir(parents=True, exist_ok=True)

    def fail(self, step, message: str) -> None:
        self.failures.append(f"{self.notebook} cell {step['cell']}: {message}")

    # what every response must show

    def check(self, service: str, method: str, kwargs: dict, response: dict) -> None:
        ops = aws_model.operations(service)
        op = next(o for o in ops if snake(o) == method)
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
        missing = [m for m in ops[op]["output"]
                   if m not in response and m not in OPTIONAL_OUTPUT and f"{op}.{m}" not in OPTIONAL_OUTPUT]
        assert not missing, f"response lacks {missing} (keys: {sorted(response)})"
        for key, value in response.items():
            if key.endswith("Arn") and key != "ResponseMetadata":
                assert value.startswith("arn:aws:personalize:"), f"{key} = {value!r}"
        if method.startswith("describe_"):
            (record,) = [v for k, v in response.items() if k != "ResponseMetadata"]
            assert record.get("status") == "ACTIVE", f"status {record.get('status')!r}"
        getattr(self, "check_" + method, lambda kwargs, response: None)(kwargs, response)

    def check_create_filter(self, kwargs, response):
        self.filters[response["filterArn"]] = kwargs["filterExpression"]

    def check_create_event_tracker(self, kwargs, response):
        assert isinstance(response["trackingId"], str) and response["trackingId"]

    def check_list_recipes(self, kwargs, response):
        names = {r["name"] for r in response["recipes"]}
        assert {"aws-user-personalization", "aws-sims", "aws-personalized-ranking"} <= names, names

    def check_get_solution_metrics(self, kwargs, response):
        assert response["solutionVersionArn"] == kwargs["solutionVersionArn"]
        assert isinstance(response["metrics"], dict)

    def check_put_events(self, kwargs, response):
        for event in kwargs["eventList"]:
            item = event.get("itemId") or json.loads(event.get("properties", "{}")).get("itemId")
            self.events.append((kwargs["userId"], item, event["eventType"]))

    def check_get_recommendations(self, kwargs, response):
        ids = [i["itemId"] for i in response["itemList"]]
        assert len(ids) == len(set(ids)), f"repeated items {ids}"
        assert len(ids) <= kwargs.get("numResults", 25)
        assert set(ids) <= DATA.item_ids, f"unknown items {set(ids) - DATA.item_ids}"
        if "itemId" in kwargs:
            assert kwargs["itemId"] not in ids, "the item itself is recommended"
        if "filterArn" not in kwargs:
            assert ids, "no recommendations"
            return
        expression = self.filters[kwargs["filterArn"]]
        wrong = [i for i in ids if not self.passes(expression, kwargs.get("userId"), i)]
        assert not wrong, f"{wrong} do not pass {expression}"

    def check_get_personalized_ranking(self, kwargs, response):
        ranked = [i["itemId"] for i in response["personalizedRanking"]]
        assert sorted(ranked) == sorted(kwargs["inputList"]), ranked

    def passes(self, expression: str, user: str | None, item: str) -> bool:
        """Whether an item passes one of the notebooks' filter expressions (computed here)."""
        if m := re.fullmatch(r'(INCLUDE|EXCLUDE) ItemID WHERE Items\.(\w+) IN \("([^"]*)"\)', expression):
            inside = m.group(3) in str(DATA.items.loc[item, m.group(2).upper()]).split("|")
        elif m := re.fullmatch(r'(INCLUDE) ItemID WHERE Items\.(\w+) >= (\d+) AND Items\.\2 < (\d+)', expression):
            inside = int(m.group(3)) <= DATA.items.loc[item, m.group(2).upper()] < int(m.group(4))
        elif m := re.fullmatch(r'(INCLUDE|EXCLUDE) ItemID WHERE Interactions\.event_type IN \("([^"]*)"\)',
                               expression):
            inter = DATA.interactions
            had = set(inter.loc[(inter["USER_ID"] == user) & (inter["EVENT_TYPE"] == m.group(2)), "ITEM_ID"])
            had |= {i for u, i, t in self.events if u == user and t == m.group(2)}
            inside = item in had
        else:
            raise AssertionError(f"no reference for filter {expression!r}")
        return inside if m.group(1) == "INCLUDE" else not inside


def _calls_in(steps: list[dict]) -> bool:
    return any(s["kind"] in ("call", "invoke") or _calls_in(s.get("body", []) + s.get("orelse", [])
                                                           + s.get("handlers", [])) for s in steps)


def _leaves(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def _strings(value):
    return (v for v in _leaves(value) if isinstance(v, str))


def _show(kwargs: dict) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return text if len(text) <= 300 else text[:300] + "..."


# -- the tests ----------------------------------------------------------------------------

CASES = [pytest.param(series, name, id=f"{series}/{name}",
                      marks=[pytest.mark.xfail(strict=True, reason=GAPS[name])] if name in GAPS else [])
         for series, names in SERIES.items() for name in names]


@pytest.fixture(scope="module", params=["in-process", "http"])
def transport(request):
    return request.param


@pytest.fixture(scope="module")
def replays(transport, tmp_path_factory):
    made: dict[str, Replay] = {}

    def get(series: str) -> Replay:
        if series not in made:
            made[series] = Replay(series, transport, tmp_path_factory.mktemp(series))
        return made[series]
    yield get
    for replay in made.values():
        replay.close()


@pytest.mark.parametrize("series, notebook", CASES)
def test_notebook_replays_unchanged(replays, series, notebook):
    replay = replays(series)
    failures = replay.run_through(notebook)
    assert not failures, "\n".join(failures)
    assert replay.calls[notebook] > 0


def test_recordings_are_pinned_and_hold_personalize_calls():
    for names in SERIES.values():
        for name in names:
            recorded = json.loads((NOTEBOOKS / f"{name}.calls.json").read_text(encoding="utf-8"))
            source = recorded["source"]
            assert source["repo"] == "aws-samples/amazon-personalize-samples"
            assert re.fullmatch(r"[0-9a-f]{40}", source["commit"]) and source["path"].endswith(f"{name}.ipynb")
            assert "unparsed_cells" not in recorded
            assert any(s["kind"] == "client" and s["service"] in PERSONALIZE for s in recorded["steps"])


def test_extract_follows_calls_through_magics_loops_and_functions():
    spec = importlib.util.spec_from_file_location("notebook_extract", NOTEBOOKS / "extract.py")
    extract = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(extract)
    notebook = {"cells": [
        {"cell_type": "markdown", "source": ["# not read"]},
        {"cell_type": "code", "source": ["import boto3\n", "!pip install boto3\n", "pz = boto3.client('personalize')\n",
                                         "ev = boto3.client(service_name='personalize-events')"]},
        {"cell_type": "code", "source": "r = pz.create_dataset_group(name='g', tags=[{'tagKey': 'k'}])\n"
                                        "arn = r['datasetGroupArn']\nwhile True:\n"
                                        "    d = pz.describe_dataset_group(datasetGroupArn=arn)\n    %sleep 1\n"},
        {"cell_type": "code", "source": "def send(u):\n    ev.put_events(trackingId=t, userId=u, sessionId='s', eventList=[])\n"
                                        "for u in users:\n    send(u)\n"},
        {"cell_type": "code", "source": "print(\"unclosed"},
    ]}
    out = extract.extract(notebook, "o/r", "n.ipynb", "0" * 40)
    assert out["source"] == {"repo": "o/r", "path": "n.ipynb", "commit": "0" * 40}
    assert out["unparsed_cells"] == [4]
    steps = out["steps"]
    assert [(s["kind"], s.get("name"), s.get("service")) for s in steps[:2]] == [
        ("client", "pz", "personalize"), ("client", "ev", "personalize-events")]
    create, assign, describe, define, loop = steps[2:]
    assert create["kwargs"] == {"name": {"literal": "g"}, "tags": {"literal": [{"tagKey": "k"}]}}
    assert (create["assign"], create["poll"], create["cell"]) == ("r", False, 2)
    assert assign == {"kind": "assign", "cell": 2, "source": "arn = r['datasetGroupArn']"}
    assert describe["kwargs"] == {"datasetGroupArn": {"expr": "arn"}} and describe["poll"]
    assert define["name"] == "send" and define["params"] == ["u"] and define["body"][0]["method"] == "put_events"
    assert loop["kind"] == "for" and loop["body"][0] == {"kind": "invoke", "cell": 3, "function": "send",
                                                         "args": ["u"], "kwargs": {}, "assign": None}
