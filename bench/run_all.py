"""Run every benchmark in bench/ one after another (`make bench`); pass --quick for short runs."""
from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)])
                   if m.name.endswith("_bench"))
    failed = []
    for name in names:
        print(f"\n=== bench.{name} ===", flush=True)
        started = time.perf_counter()
        rc = subprocess.call([sys.executable, "-m", f"bench.{name}", *argv], cwd=here.parent)
        print(f"=== bench.{name}: exit {rc} in {time.perf_counter() - started:.1f}s", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    importlib.invalidate_caches()
    sys.exit(main(sys.argv[1:]))
