"""The boto3 call sequence of a Jupyter notebook, as JSON a test can replay.

    python tests/data/notebooks/extract.py NOTEBOOK.ipynb --repo OWNER/NAME --path PATH --commit SHA

writes ``<notebook stem>.calls.json`` beside this script (``--out DIR`` elsewhere):
``{"source": {"repo", "path", "commit"}, "steps": [...]}``. Each code cell is parsed with
:mod:`ast` after its shell (``!``) and magic (``%``) lines become ``pass``; a cell that still
does not parse is listed under ``"unparsed_cells"``. The steps, in notebook order, each with
the index of its cell in the notebook:

- ``client``: ``NAME = boto3.client("SERVICE")`` (any ``.client(...)`` call naming a service);
- ``call``: a method called on one of those names, with ``client``, ``service``, ``method``,
  ``args`` and ``kwargs`` (each ``{"literal": value}`` when :func:`ast.literal_eval` reads it
  and the value is JSON, else ``{"expr": source}``), ``assign`` (the target's source, or
  null) and ``poll`` (true inside a ``while`` loop);
- ``assign``: any other assignment, or ``NAME.append/extend/insert/remove/update(...)``, as
  source text (the replay evaluates what it can);
- ``def``: a function whose body makes client calls (directly or through another such
  function): ``name``, ``params``, ``defaults`` (source) and its ``body`` steps;
- ``invoke``: a call of such a function, with ``function``, ``args``, ``kwargs`` (source) and
  ``assign``;
- ``for`` (``target``, ``iter``, ``body``), ``if`` (``test``, ``body``, ``orelse``) and
  ``try`` (``body``, ``handlers``) when they hold any of the above. ``while`` and ``with``
  blocks are inlined (a ``while`` around a describe call is a polling loop).

Markdown and outputs are not read.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
from pathlib import Path

MUTATORS = {"append", "extend", "insert", "remove", "update"}
MAGIC = re.compile(r"^(\s*)[!%]")


def code_cells(notebook: dict) -> list[tuple[int, str]]:
    """(index in the notebook, source) of every code cell, magics turned into ``pass``."""
    out = []
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        lines = []
        for line in source.splitlines():
            magic = MAGIC.match(line)
            lines.append(magic.group(1) + "pass" if magic else line)
        out.append((index, "\n".join(lines)))
    return out


def client_service(node: ast.AST) -> str | None:
    """The service of ``X.client("service")`` / ``X.client(service_name="service")``."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "client"):
        return None
    candidates = list(node.args[:1]) + [k.value for k in node.keywords if k.arg == "service_name"]
    for arg in candidates:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return arg.value
    return None


def value(node: ast.AST, source: str) -> dict:
    try:
        literal = ast.literal_eval(node)
        if json.loads(json.dumps(literal)) == literal:
            return {"literal": literal}
    except (ValueError, TypeError, SyntaxError, RecursionError):
        pass
    return {"expr": ast.get_source_segment(source, node)}


class Extractor:
    def __init__(self, cells: list[tuple[int, str]]):
        self.trees, self.unparsed = [], []
        for index, source in cells:
            try:
                self.trees.append((index, source, ast.parse(source)))
            except SyntaxError:
                self.unparsed.append(index)
        self.clients = {}                 # variable -> service
        for _index, _source, tree in self.trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                        and isinstance(node.targets[0], ast.Name) and client_service(node.value):
                    self.clients[node.targets[0].id] = client_service(node.value)
        self.functions = self._functions()

    def _client_call(self, node: ast.AST) -> bool:
        return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id in self.clients)

    def _functions(self) -> set[str]:
        """Names of the notebook's functions that reach a client call, to a fixed point."""
        defs = {node.name: node for _i, _s, tree in self.trees for node in ast.walk(tree)
                if isinstance(node, ast.FunctionDef)}
        found: set[str] = set()
        while True:
            more = {name for name, node in defs.items() if name not in found and any(
                self._client_call(n) or (isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                                         and n.func.id in found) for n in ast.walk(node))}
            if not more:
                return found
            found |= more

    def _invoked(self, node: ast.AST) -> bool:
        return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in self.functions

    def steps(self) -> list[dict]:
        out = []
        for index, source, tree in self.trees:
            out.extend(self.block(tree.body, index, source, poll=False))
        return out

    def block(self, body: list[ast.stmt], cell: int, source: str, poll: bool) -> list[dict]:
        out = []
        for stmt in body:
            out.extend(self.statement(stmt, cell, source, poll))
        return out

    def statement(self, stmt: ast.stmt, cell: int, src: str, poll: bool) -> list[dict]:
        text = ast.get_source_segment
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and stmt.value is not None:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            if len(targets) == 1 and client_service(stmt.value):
                return [{"kind": "client", "cell": cell, "name": text(src, targets[0]),
                         "service": client_service(stmt.value)}]
            if len(targets) == 1 and isinstance(stmt, ast.Assign):
                if self._client_call(stmt.value):
                    return [self.call(stmt.value, cell, src, poll, text(src, targets[0]))]
                if self._invoked(stmt.value):
                    return [self.invoke(stmt.value, cell, src, text(src, targets[0]))]
            return [{"kind": "assign", "cell": cell, "source": text(src, stmt)}]
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            call = stmt.value
            if self._client_call(call):
                return [self.call(call, cell, src, poll, None)]
            if self._invoked(call):
                return [self.invoke(call, cell, src, None)]
            if isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name) \
                    and call.func.attr in MUTATORS:
                return [{"kind": "assign", "cell": cell, "source": text(src, stmt)}]
            return []
        if isinstance(stmt, ast.FunctionDef) and stmt.name in self.functions:
            params = [a.arg for a in stmt.args.posonlyargs + stmt.args.args + stmt.args.kwonlyargs]
            positional = stmt.args.posonlyargs + stmt.args.args
            defaults = {a.arg: text(src, d) for a, d in zip(positional[len(positional) - len(stmt.args.defaults):],
                                                           stmt.args.defaults)}
            defaults.update({a.arg: text(src, d) for a, d in zip(stmt.args.kwonlyargs, stmt.args.kw_defaults)
                             if d is not None})
            return [{"kind": "def", "cell": cell, "name": stmt.name, "params": params, "defaults": defaults,
                     "body": self.block(stmt.body, cell, src, poll=False)}]
        if isinstance(stmt, ast.For):
            body = self.block(stmt.body, cell, src, poll)
            return [{"kind": "for", "cell": cell, "target": text(src, stmt.target), "iter": text(src, stmt.iter),
                     "body": body}] if body else []
        if isinstance(stmt, ast.While):
            return self.block(stmt.body, cell, src, poll=True)
        if isinstance(stmt, ast.With):
            return self.block(stmt.body, cell, src, poll)
        if isinstance(stmt, ast.If):
            body, orelse = self.block(stmt.body, cell, src, poll), self.block(stmt.orelse, cell, src, poll)
            return [{"kind": "if", "cell": cell, "test": text(src, stmt.test), "body": body,
                     "orelse": orelse}] if body or orelse else []
        if isinstance(stmt, ast.Try):
            body = self.block(stmt.body + stmt.orelse + stmt.finalbody, cell, src, poll)
            handlers = [s for h in stmt.handlers for s in self.block(h.body, cell, src, poll)]
            return [{"kind": "try", "cell": cell, "body": body, "handlers": handlers}] if body or handlers else []
        return []

    def call(self, node: ast.Call, cell: int, src: str, poll: bool, assign: str | None) -> dict:
        client = node.func.value.id
        kwargs = {(k.arg if k.arg is not None else "**"): value(k.value, src) for k in node.keywords}
        return {"kind": "call", "cell": cell, "line": node.lineno, "client": client,
                "service": self.clients[client], "method": node.func.attr,
                "args": [value(a, src) for a in node.args], "kwargs": kwargs, "assign": assign, "poll": poll}

    def invoke(self, node: ast.Call, cell: int, src: str, assign: str | None) -> dict:
        return {"kind": "invoke", "cell": cell, "function": node.func.id,
                "args": [ast.get_source_segment(src, a) for a in node.args],
                "kwargs": {k.arg: ast.get_source_segment(src, k.value) for k in node.keywords},
                "assign": assign}


def extract(notebook: dict, repo: str, path: str, commit: str) -> dict:
    ex = Extractor(code_cells(notebook))
    out = {"source": {"repo": repo, "path": path, "commit": commit}, "steps": ex.steps()}
    if ex.unparsed:
        out["unparsed_cells"] = ex.unparsed
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--repo", required=True)
    parser.add_argument("--path", required=True, help="the notebook's path inside the repository")
    parser.add_argument("--commit", required=True)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args(argv)
    result = extract(json.loads(args.notebook.read_text(encoding="utf-8")), args.repo, args.path, args.commit)
    target = args.out / f"{Path(args.path).stem}.calls.json"
    target.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{target}: {sum(1 for _ in walk(result['steps']) if _['kind'] == 'call')} calls")


def walk(steps: list[dict]):
    """Every step, nested ones included, in order."""
    for step in steps:
        yield step
        for key in ("body", "orelse", "handlers"):
            yield from walk(step.get(key, []))


if __name__ == "__main__":
    main()
