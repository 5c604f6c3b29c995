"""Regenerate the sample datasets in this folder.

Example:
    python data/generate.py                      # default sizes, into data/
    python data/generate.py --out /tmp/sample --users 200 --items 100
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

try:
    from pypersonalize import sample_data
except ImportError:
    # Run from a source checkout without installing the package.
    sys.path.insert(0, str(HERE.parent))
    from pypersonalize import sample_data

DATASETS = (
    ("video_on_demand", "VIDEO_ON_DEMAND", sample_data.video_on_demand),
    ("ecommerce", "ECOMMERCE", sample_data.ecommerce),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE,
                        help="folder that receives video_on_demand/ and ecommerce/ "
                             "(default: the folder holding this script)")
    parser.add_argument("--users", type=int, default=None,
                        help="users per dataset (default: the generator's default)")
    parser.add_argument("--items", type=int, default=None,
                        help="items per dataset (default: the generator's default)")
    args = parser.parse_args(argv)
    sizes = {k: v for k, v in (("n_users", args.users), ("n_items", args.items))
             if v is not None}
    for folder, domain, generate in DATASETS:
        started = time.perf_counter()
        frames = generate(**sizes)
        target = args.out / folder
        sample_data.write_csv(frames, target)
        sample_data.write_schemas(domain, target)
        counts = ", ".join(f"{len(df)} {name}" for name, df in frames.items())
        print(f"{target}: {counts} ({time.perf_counter() - started:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
