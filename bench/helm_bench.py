"""What rendering a chart with the real Helm engine costs, next to what any engine costs anyway.

Run: `.venv/bin/python -m bench.helm_bench [--quick]`. The chart is tests/support/charts/webapp:
20 templates using what real charts use (values, `include` of helpers in _helpers.tpl,
`range`, `default`, conditionals, `toYaml | nindent`, `sha256sum` of another template).
Medians of rounds taken in turns (bench.sampling.interleaved), milliseconds per render:

* baseline: parse — libyaml-parse the 20 rendered templates (every engine's output needs this).
* baseline: spawn — start and wait for `/bin/true` (the least an engine run as a separate
  binary per render would add).
* helm-python-sdk render — `Chart.render` on a chart loaded once (Helm's Go engine in-process).
* reconciler.helm.render — the adapter as shipped: load the chart from disk, render, parse,
  order; what a delivery pays per chart.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

import helm_python
import yaml

from bench.sampling import interleaved
from reconciler.helm import render

CHART = Path(__file__).resolve().parents[1] / "tests" / "support" / "charts" / "webapp"
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def main(argv: list[str]) -> int:
    runs = 20 if "--quick" in argv else 200
    loaded = helm_python.Chart.load(str(CHART))
    texts = loaded.render({}, name="bench", namespace="bench")
    assert len(texts) == 20, sorted(texts)
    cases = {
        "baseline: parse": lambda: [list(yaml.load_all(t, Loader=LOADER)) for t in texts.values()],
        "baseline: spawn": lambda: subprocess.run(["/bin/true"], check=True),
        "helm-python-sdk render": lambda: loaded.render({}, name="bench", namespace="bench"),
        "reconciler.helm.render": lambda: render(CHART, release="bench", namespace="bench"),
    }
    for fn in cases.values():   # warm up
        fn()
    times = interleaved(cases, runs)
    loaded.close()
    print(f"{runs} rounds, 20 templates -> {len(render(CHART, release='b', namespace='b'))} objects")
    for name, values in times.items():
        q = statistics.quantiles(values, n=10)
        print(f"{name:26s} median {statistics.median(values):7.2f} ms   p10 {q[0]:7.2f}   p90 {q[-1]:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
