"""Run pypersonalize's benchmarks and write benchmarks/RESULTS.md.

Sections (each a module beside this file):
  imports  validated CSV import vs duckdb-raw, pandas, pandas+checks       (imports.py)
  sims     SIMS training in SQL vs a scipy.sparse peer, time split, peak RSS (sims.py)
  filters  request latency with and without a filter, MovieLens 100K    (filters.py)
  quality  NDCG/Recall/MRR/coverage of our recipes vs EASE, item-kNN, implicit (quality.py)
  training User-Personalization training time vs implicit ALS, 1M events  (training.py)
  startup  CLI start-up (--version, --help, a command) vs `python -c pass`  (startup.py)
  latency  p50/p99 of single requests vs the serving-engine targets, implicit peer (latency.py)
  related  Similar-Items vs SIMS vs metadata cosine: cold and warm items, MovieLens 100K (related.py)
  text_retrieval  Semantic-Similarity: same-genre P@10 from MovieLens titles, latency (text_retrieval.py)
  batch    batch inference jobs for every user vs a request loop and implicit; segment jobs (batch.py)
  segments Item-Affinity segments vs user-activity baselines, time split, MovieLens 100K (segments.py)
  tuning   offline-metrics cost, HPO (halving vs random) vs defaults, AutoML, objective/events (tuning.py)
  serve_load  `pypersonalize serve` at 200 req/s and saturated vs the in-process API (serve_load.py)

Usage: python benchmarks/run.py [--quick] [--only SECTION] [--repeat N] [--output PATH]
A full run (no --quick, no --only) writes benchmarks/RESULTS.md; other runs only print,
unless --output is given.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import machine_line, versions_line  # noqa: E402

SECTIONS = ("imports", "sims", "filters", "quality", "training", "startup", "latency", "related", "text_retrieval",
            "batch", "segments", "tuning", "serve_load")
RESULTS = HERE / "RESULTS.md"
SCALE_BEGIN, SCALE_END = "<!-- scale:begin -->", "<!-- scale:end -->"     # scale.py's block


def command_line(args) -> str:
    flags = " ".join(sys.argv[1:])
    if not flags:
        return "`make bench` (= `.venv/bin/python benchmarks/run.py`)"
    return f"`.venv/bin/python benchmarks/run.py {flags}`"


def render_markdown(sections, args, started: datetime, total: float) -> str:
    out = ["# Benchmark results", "",
           f"Command: {command_line(args)}, best of {args.repeat} unless a table says otherwise, "
           f"{started:%Y-%m-%d %H:%M} UTC, whole run {total / 60:.1f} min.",
           f"Machine: {machine_line()}; {versions_line()}.",
           "The machine is shared and noisy: read the ratios (each measured in the same run), "
           "not the seconds.",
           "This file is written by `benchmarks/run.py`; edit the code, not the file.", ""]
    for s in sections:
        out += [f"## {s.title}", "", s.intro, ""]
        for table in s.tables:
            out += ["```", table, "```", ""]
        out += [s.reading, ""]
    return "\n".join(out).rstrip() + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, one repetition (< 1 min)")
    ap.add_argument("--only", choices=SECTIONS, action="append",
                    help="run only this section (may be given more than once)")
    ap.add_argument("--repeat", type=int, help="repetitions per measurement, best kept "
                                              "(default 3, 1 with --quick)")
    ap.add_argument("--output", type=Path, help="markdown file to write (default: RESULTS.md "
                                                "on a full run, nothing otherwise)")
    args = ap.parse_args()
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")
    output = args.output or (RESULTS if not args.quick and not args.only else None)
    chosen = [s for s in SECTIONS if not args.only or s in args.only]

    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    print(f"# {machine_line()}\n# {versions_line()}\n# best of {args.repeat}"
          + (", quick sizes" if args.quick else ""), flush=True)
    sections = []
    for key in chosen:
        module = __import__(key)
        print(f"\n== {key}", flush=True)
        start = time.perf_counter()
        section = module.run(quick=args.quick, repeat=args.repeat,
                             log=lambda *a: print(*a, flush=True))
        section.seconds = time.perf_counter() - start
        print(f"\n{section.reading}\n({key}: {section.seconds:.0f}s)", flush=True)
        sections.append(section)
    total = time.perf_counter() - t0
    print(f"\n# total {total:.0f}s")
    if output:
        text = render_markdown(sections, args, started, total)
        old = output.read_text() if output.exists() else ""
        if SCALE_BEGIN in old and SCALE_END in old:      # written by scale.py (make bench-scale); kept
            text += "\n" + old[old.index(SCALE_BEGIN):old.index(SCALE_END) + len(SCALE_END)] + "\n"
        output.write_text(text)
        print(f"# wrote {output}")


if __name__ == "__main__":
    main()
