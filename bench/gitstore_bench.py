"""Git store benchmarks: trigger latency, idle poll cost, write-back cost, change processing.

Run: `.venv/bin/python -m bench.gitstore_bench [--quick]`. Every figure has its baseline
measured in the same run, on the same machine, so ratios survive a slower CI box:

1. push → callback latency via LocalWatch (inotify) and via Poller at 0.1 s and 1 s
   (file:// origin, pushes by the git CLI at random phases of the poll interval);
2. idle poll cost (ls-remote + compare, nothing changed) on a 1,000-service × 3-stage repo
   over file://, git:// and http:// — baseline: `git ls-remote` (CLI) against the same URL;
3. write-back commit on that repo: in-memory commit, and commit + push to file:// —
   baseline: the same change in a checked-out working tree with `git add` + `git commit`
   (+ `git push`), i.e. what a checkout-based tool has to do;
4. one-service change processing (fetch + changed paths + commit facts) on the 1,000-service
   repo vs a 10-service repo (target ratio ≤ 1.5).
"""
from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pygit2

from reconciler.contract import BOT_EMAIL, BOT_NAME
from reconciler.gitstore import LocalWatch, Mirror, Poller, Writer, treeedit
from tests.support.remotes import GitDaemon, GitHttpServer, Human, git

STAGES = ("dev", "staging", "production")


def make_repo(path: Path, services: int, history: int = 20) -> Path:
    """A bare repo: main with a shipyard, three stage branches with `services` folders of
    three files each, plus `history` one-service commits per stage (one fast-import)."""
    git("init", "-q", "--bare", "-b", "main", str(path))
    out = bytearray()

    def data(b: bytes) -> bytes:
        return b"data %d\n" % len(b) + b + b"\n"

    who = b"author Bench <bench@example.com> 1700000000 +0000\ncommitter Bench <bench@example.com> 1700000000 +0000\n"
    out += b"commit refs/heads/main\nmark :1\n" + who + data(b"shipyard")
    out += b"M 100644 inline shipyard.yaml\n" + data(b"apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\n") + b"\n"
    mark = 1
    for s, stage in enumerate(STAGES):
        mark += 1
        out += b"commit refs/heads/%s\nmark :%d\n" % (stage.encode(), mark) + who + data(b"services") + b"from :1\n"
        for i in range(services):
            name = f"svc-{i:04d}".encode()
            out += b"M 100644 inline %s/values.yaml\n" % name + data(b"image: %s:1.0\nreplicas: %d\n" % (name, s + 1))
            out += b"M 100644 inline %s/slo.yaml\n" % name + data(b"objectives:\n  - sli: response_time_p95\n")
            out += b"M 100644 inline %s/sli.yaml\n" % name + data(b"indicators:\n  response_time_p95: q\n")
        out += b"\n"
        for h in range(history):
            out += b"commit refs/heads/%s\n" % stage.encode() + who + data(b"bump %d" % h)
            name = f"svc-{h % services:04d}".encode()
            out += (b"M 100644 inline %s/values.yaml\n" % name
                    + data(b"image: %s:1.%d\nreplicas: %d\n" % (name, h, s + 1)))
            out += b"\n"
    git("fast-import", "--quiet", cwd=path, input=bytes(out))
    git("gc", "-q", cwd=path)
    return path


def timed(fn: Callable[[], object], n: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def stats(ms: list[float]) -> str:
    ms = sorted(ms)
    p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    return f"median {statistics.median(ms):8.2f} ms   p90 {p90:8.2f} ms   (n={len(ms)})"


def med(ms: list[float]) -> float:
    return statistics.median(ms)


# ----------------------------------------------------------------------------- 1. latency

def trigger_latency(base: Path, quick: bool) -> None:
    print("\n## 1. push → callback latency (file:// origin, pushes by the git CLI)")
    origin = make_repo(base / "latency.git", services=10, history=0)
    human = Human(origin.as_uri(), base / "latency-human", "dev")
    counter = [0]

    def prepare() -> None:
        counter[0] += 1
        human.write("svc-0001/values.yaml", f"image: x:{counter[0]}\n")
        git("commit", "-q", "-am", f"bump {counter[0]}", cwd=human.path)

    def run(label: str, start_source: Callable[[Callable[[], None]], object], stop: Callable[[object], None],
            n: int, settle: Callable[[], None], phase: float) -> None:
        fired = threading.Event()
        stamp: list[float] = []

        def callback() -> None:
            stamp.append(time.perf_counter())
            fired.set()

        source = start_source(callback)
        since_start, since_return = [], []
        try:
            for _ in range(n):
                prepare()
                time.sleep(random.uniform(0, phase) if phase else 0.02)
                fired.clear()
                stamp.clear()
                t0 = time.perf_counter()
                git("push", "-q", "origin", "HEAD:dev", cwd=human.path)
                t1 = time.perf_counter()
                if not fired.wait(10):
                    raise RuntimeError(f"{label}: no callback within 10 s")
                since_start.append((stamp[0] - t0) * 1000)
                since_return.append((stamp[0] - t1) * 1000)
                settle()
        finally:
            stop(source)
        print(f"  {label:<28} push start → callback: {stats(since_start)}")
        print(f"  {'':<28} push return → callback: {stats(since_return)}")

    n_watch = 10 if quick else 30
    run("LocalWatch (inotify)", lambda cb: LocalWatch(origin, cb).start(), lambda s: s.stop(),
        n_watch, lambda: None, 0.0)
    mirror = Mirror(origin.as_uri(), base / "latency-work")
    mirror.fetch()
    for interval, n in ((0.1, 10 if quick else 30), (1.0, 4 if quick else 12)):
        run(f"Poller interval {interval:g} s", lambda cb, i=interval: Poller.for_mirror(mirror, cb, i).start(),
            lambda s: s.stop(), n, lambda: mirror.fetch(), interval)


# ----------------------------------------------------------------------------- 2. idle poll

def idle_poll(base: Path, big: Path, quick: bool) -> None:
    print("\n## 2. idle poll (ls-remote + compare, nothing changed), 1,000 services × 3 stages")
    daemon = GitDaemon(base).start()
    http = GitHttpServer(base).start()
    try:
        urls = {"file": big.as_uri(), "daemon": daemon.url(big), "http": http.url(big)}
        n = 30 if quick else 200
        for kind, url in urls.items():
            mirror = Mirror(url, base / f"idle-{kind}")
            mirror.fetch()
            poller = Poller.for_mirror(mirror, lambda: None, 1.0)
            ours = timed(poller.poll_once, n)
            assert poller.changes == 0
            cli = timed(lambda: git("-c", "protocol.version=0", "ls-remote", url), max(10, n // 5))  # noqa: B023 - timed() calls it now
            print(f"  {kind:<7} Poller.poll_once: {stats(ours)}")
            print(f"  {'':<7} git ls-remote (CLI, v0) baseline: {stats(cli)}   "
                  f"ratio ours/CLI {med(ours) / med(cli):.2f}")
    finally:
        daemon.stop()
        http.stop()


# ----------------------------------------------------------------------------- 3. write-back

def write_back(base: Path, big: Path, quick: bool) -> None:
    print("\n## 3. write-back commit of one file on the 1,000-service repo")
    mirror = Mirror(big.as_uri(), base / "write-work")
    mirror.fetch()
    writer = Writer(mirror)
    repo = mirror.repo
    bot = pygit2.Signature(BOT_NAME, BOT_EMAIL)
    n = 30 if quick else 200
    k = [0]

    def commit_only() -> None:
        k[0] += 1
        tip = repo.references["refs/heads/staging"].peel(pygit2.Commit)
        tree = treeedit.apply(repo, tip.tree, {f"svc-{k[0] % 1000:04d}/values.yaml": b"image: x:%d\n" % k[0]})
        repo.create_commit(None, bot, bot, "bench\n\nReconciler-Context: c\n", tree, [tip.id])

    def commit_push() -> None:
        k[0] += 1
        writer.write("staging", lambda tip: {f"svc-{k[0] % 1000:04d}/values.yaml": b"image: y:%d\n" % k[0]},
                     "bench", {"Reconciler-Context": "c"})

    ours_commit = timed(commit_only, n)
    ours_push = timed(commit_push, max(10, n // 2))

    t = time.perf_counter()
    work = base / "write-checkout"
    git("clone", "-q", "-b", "staging", big.as_uri(), str(work))
    checkout_ms = (time.perf_counter() - t) * 1000

    def cli_commit() -> None:
        k[0] += 1
        path = f"svc-{k[0] % 1000:04d}/values.yaml"
        (work / path).write_text(f"image: z:{k[0]}\n")
        git("add", path, cwd=work)
        git("commit", "-q", "-m", "bench\n\nReconciler-Context: c", cwd=work)

    def cli_commit_push() -> None:
        cli_commit()
        git("push", "-q", "origin", "HEAD:refs/heads/cli-bench", cwd=work)

    cli = timed(cli_commit, max(10, n // 4))
    cli_push = timed(cli_commit_push, max(10, n // 8))
    print(f"  in-memory commit (TreeBuilder path walk): {stats(ours_commit)}")
    print(f"  Writer.write, commit + push to file://:   {stats(ours_push)}")
    print(f"  baseline: one-time clone with checkout of 3,000 files: {checkout_ms:.0f} ms")
    print(f"  baseline: working tree, git add + git commit:          {stats(cli)}")
    print(f"  baseline: working tree, git add + commit + push:       {stats(cli_push)}")
    print(f"  ratio in-memory commit / CLI commit:        {med(ours_commit) / med(cli):.3f}"
          f"   ({med(cli) / med(ours_commit):.0f}x faster)")
    print(f"  ratio Writer.write / CLI commit + push:     {med(ours_push) / med(cli_push):.3f}"
          f"   ({med(cli_push) / med(ours_push):.0f}x faster)")


# ----------------------------------------------------------------------------- 4. change processing

def change_processing(base: Path, big: Path, quick: bool) -> None:
    print("\n## 4. one-service push: fetch + changed paths + commit facts, 1,000 vs 10 services")
    print("  (the two repos are measured alternately, so both see the same machine load)")
    small = make_repo(base / "small.git", services=10)
    daemon = GitDaemon(base).start()
    try:
        n = 15 if quick else 60
        for kind in ("file", "daemon"):
            setups = {}
            for label, repo_path in (("10", small), ("1000", big)):
                url = repo_path.as_uri() if kind == "file" else daemon.url(repo_path)
                mirror = Mirror(url, base / f"proc-{kind}-{label}")
                mirror.fetch()
                pusher = Writer(Mirror(url, base / f"proc-pusher-{kind}-{label}"))
                pusher.mirror.fetch()
                setups[label] = (mirror, pusher, [])
            for i in range(n + 2):
                for mirror, pusher, samples in setups.values():
                    pusher.write("production", lambda tip, i=i: {"svc-0003/values.yaml": b"image: p:%d\n" % i},
                                 f"push {i}")
                    old = mirror.tip("production")
                    t = time.perf_counter()
                    new = mirror.fetch()["production"]
                    paths = mirror.changed_paths(old, new)
                    facts = mirror.commits(old, new)
                    elapsed = (time.perf_counter() - t) * 1000
                    assert paths == ("svc-0003/values.yaml",) and len(facts) == 1, (paths, len(facts))
                    if i >= 2:
                        samples.append(elapsed)
            for label, (_, _, samples) in setups.items():
                print(f"  {kind:<7} {label:>5} services: {stats(samples)}")
            ratio = med(setups["1000"][2]) / med(setups["10"][2])
            print(f"  {kind:<7} ratio 1000/10: {ratio:.2f}   (target ≤ 1.5)")
    finally:
        daemon.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (about 30 s)")
    parser.add_argument("--only", choices=["latency", "idle", "write", "process"], action="append")
    args = parser.parse_args(argv)
    only = set(args.only or ["latency", "idle", "write", "process"])
    random.seed(1)
    with tempfile.TemporaryDirectory(prefix="gitstore-bench-") as tmp:
        base = Path(tmp)
        t = time.perf_counter()
        big = make_repo(base / "big.git", services=1000)
        print(f"built 1,000-service × 3-stage repo (3,001 files per stage branch, 21 commits each) "
              f"in {time.perf_counter() - t:.1f} s")
        if "latency" in only:
            trigger_latency(base, args.quick)
        if "idle" in only:
            idle_poll(base, big, args.quick)
        if "write" in only:
            write_back(base, big, args.quick)
        if "process" in only:
            change_processing(base, big, args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
