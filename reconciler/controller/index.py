"""SQLite index of the results branch: fast queries for `status`, `events` and the API.

It holds nothing Git does not: every row is derived from a file on `reconciler/results`,
and `meta.results_tip` says which commit it reflects (one exception: `meta.controller_health`,
the running controller's faults for `status`). Deleting the file and starting again
rebuilds the same rows (`sync` walks the whole branch when the index is empty, and only the
changed paths between the recorded tip and the new one otherwise). WAL mode lets `reconciler
status` read while the controller writes.
"""
from __future__ import annotations

import datetime as _dt
import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from reconciler.controller import journal as J

CONTROLLER_HEALTH = "controller_health"
SCHEMA_VERSION = "3"      # 2: lane_summary (the web board), evaluations_lane_path, runs_time; 3: events.ord

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, context TEXT NOT NULL, stage TEXT NOT NULL, service TEXT NOT NULL,
  idx INTEGER NOT NULL, sequence TEXT NOT NULL, state TEXT NOT NULL, result TEXT, status TEXT,
  message TEXT, task TEXT, triggered_at REAL, started_at REAL, finished_at REAL,
  gitcommitid TEXT, trigger_commit TEXT, path TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS runs_lane ON runs (stage, service, triggered_at);
CREATE INDEX IF NOT EXISTS runs_context ON runs (context);
CREATE INDEX IF NOT EXISTS runs_path ON runs (path);
CREATE INDEX IF NOT EXISTS runs_state ON runs (state);
CREATE TABLE IF NOT EXISTS events (
  id TEXT PRIMARY KEY, context TEXT NOT NULL, stage TEXT, service TEXT, type TEXT NOT NULL,
  time TEXT, triggeredid TEXT, source TEXT, run_id TEXT, path TEXT NOT NULL, body TEXT NOT NULL,
  ord INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS events_context ON events (context, ord);
CREATE INDEX IF NOT EXISTS events_type ON events (type, ord);
CREATE INDEX IF NOT EXISTS events_path ON events (path);
CREATE TABLE IF NOT EXISTS evaluations (
  path TEXT PRIMARY KEY, stage TEXT, service TEXT, context TEXT, time TEXT,
  result TEXT, score REAL, invalidated INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS evaluations_lane ON evaluations (stage, service, time);
CREATE TABLE IF NOT EXISTS documents (path TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS evaluations_lane_path ON evaluations (stage, service, path);
CREATE INDEX IF NOT EXISTS runs_time ON runs (triggered_at);
CREATE TABLE IF NOT EXISTS lane_summary (
  stage TEXT NOT NULL, service TEXT NOT NULL,
  sequence TEXT, state TEXT, result TEXT, message TEXT, context TEXT,
  ev_path TEXT, ev_result TEXT, ev_score REAL, ev_context TEXT, PRIMARY KEY (stage, service));
"""
# `documents`: the small singleton files (config/status.json, state/*.json, escalations).
# `lane_summary`: per (stage, service) its newest run and newest valid evaluation, recomputed for
# the lanes each apply touches, so the web board reads 3,000 rows however long the history is.
_SECONDARY_INDEXES = [line.split()[5] for line in SCHEMA.splitlines() if line.startswith("CREATE INDEX")]


def _locked(method):
    """Queries on the writer's connection wait for its transaction: a read in the middle of
    `apply` (which deletes a file's rows, then inserts them again) would see them missing."""
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)
    wrapper.__doc__, wrapper.__name__ = method.__doc__, method.__name__
    return wrapper


_ENDED = frozenset({"finished", "aborted", "timedOut"})

class Index:
    """One writer (the controller thread), any number of readers (other connections)."""

    def __init__(self, path: Path | str, *, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        self._lock = threading.RLock()
        if readonly:
            uri = f"file:{self.path}?mode=ro"
            self.db = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=5.0)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, check_same_thread=False, timeout=5.0)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
            if self.meta("schema") not in (None, SCHEMA_VERSION):
                self._reset()
            self._set_meta("schema", SCHEMA_VERSION)
            self.db.commit()
        self.db.row_factory = sqlite3.Row

    def close(self) -> None:
        self.db.close()

    # -- maintenance ----------------------------------------------------------------------

    def _reset(self) -> None:
        for table in ("runs", "events", "evaluations", "documents", "lane_summary"):
            self.db.execute(f"DELETE FROM {table}")
        self.db.execute("DELETE FROM meta WHERE key != ?", (CONTROLLER_HEALTH,))   # not derived from Git

    @_locked
    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    @property
    def results_tip(self) -> str | None:
        return self.meta("results_tip")

    @_locked
    def publish_health(self, health: Mapping[str, Any]) -> None:
        """The running controller's faults and notices, for `status` (the one row not from Git)."""
        with self.db:
            self._set_meta(CONTROLLER_HEALTH, json.dumps(dict(health), sort_keys=True))

    def controller_health(self) -> dict[str, Any] | None:
        raw = self.meta(CONTROLLER_HEALTH)
        try:
            value = json.loads(raw) if raw else None
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def sync(self, journal: J.Journal) -> int:
        """Bring the index to the journal's tip; returns how many files were (re)indexed."""
        tip = journal.tip()
        have = self.results_tip
        if tip == have:
            return 0
        mirror = journal.mirror
        if have is None or not _known(mirror, have):
            return self._rebuild(journal, tip)
        changed = mirror.changed_paths(have, tip)
        files = {p: (mirror.read(tip, p) if tip else None) for p in changed}
        self.apply(tip, files)
        return len(files)

    def _rebuild(self, journal: J.Journal, tip: str | None) -> int:
        """Index every file of the tip tree, streaming: blobs come from one `git cat-file`
        stream and every REBUILD_BATCH of them is one transaction, so memory is one batch
        whatever the record's size; secondary indexes are built once at the end. The tip is
        recorded last: a crash mid-way rebuilds again."""
        blobs = journal.files("", tip) if tip else {}
        with self._lock:
            with self.db:
                self._reset()
                self._set_meta("schema", SCHEMA_VERSION)
                # secondary indexes are built once at the end (a sort), not row by row
                for name in _SECONDARY_INDEXES:
                    self.db.execute(f"DROP INDEX IF EXISTS {name}")
            paths = sorted(blobs)
            stream = journal.mirror.stream_blobs(blobs[p] for p in paths)
            for start in range(0, len(paths), REBUILD_BATCH):
                chunk = paths[start:start + REBUILD_BATCH]
                with self.db:
                    self._apply(None, {p: next(stream)[1] for p in chunk}, fresh=True)
            with self.db:
                self.db.executescript(SCHEMA)
                self._summarise_all()
                if tip:
                    self._set_meta("results_tip", tip)
        return len(paths)

    def apply(self, tip: str | None, files: Mapping[str, bytes | None]) -> None:
        """Index files just written in commit `tip` (the controller's fast path)."""
        with self._lock, self.db:
            self._apply(tip, files)

    def _apply(self, tip: str | None, files: Mapping[str, bytes | None], fresh: bool = False) -> None:
        lanes: set[tuple[str, str]] = set()
        for path, content in files.items():
            if not fresh:                   # a rebuild starts from empty tables
                self._drop(path)
                parts = path.split("/")
                if len(parts) == 4 and parts[0] + "/" in (J.SEQUENCES, J.EVALUATIONS):
                    lanes.add((parts[1], parts[2]))
            if content is None:
                continue
            if path.startswith(J.SEQUENCES):
                self._index_lane(path, content)
            elif path.startswith(J.EVALUATIONS):
                self._index_evaluation(path, content)
            elif path.endswith(".json"):
                self.db.execute("INSERT OR REPLACE INTO documents (path, body) VALUES (?, ?)",
                                (path, content.decode("utf-8", "replace")))
        for stage, service in lanes:
            self._summarise(stage, service)
        if tip:
            self._set_meta("results_tip", tip)

    def _summarise_all(self) -> None:
        """Every lane's summary, after a rebuild (with the secondary indexes back)."""
        lanes = {tuple(r) for r in self.db.execute("SELECT DISTINCT stage, service FROM runs")}
        lanes |= {tuple(r) for r in self.db.execute(
            "SELECT DISTINCT stage, service FROM evaluations WHERE stage IS NOT NULL")}
        for stage, service in lanes:
            self._summarise(stage, service)

    def _summarise(self, stage: str, service: str) -> None:
        """The lane's newest run and newest valid evaluation (two indexed LIMIT 1 lookups)."""
        run = self.db.execute(
            "SELECT sequence, state, result, message, context FROM runs WHERE stage = ? AND service = ? "
            "ORDER BY triggered_at DESC, id DESC LIMIT 1", (stage, service)).fetchone()
        ev = self.db.execute(
            "SELECT path, result, score, context FROM evaluations WHERE stage = ? AND service = ? "
            "AND invalidated = 0 ORDER BY path DESC LIMIT 1", (stage, service)).fetchone()
        if run is None and ev is None:
            self.db.execute("DELETE FROM lane_summary WHERE stage = ? AND service = ?", (stage, service))
            return
        self.db.execute("INSERT OR REPLACE INTO lane_summary VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                        (stage, service, *(tuple(run) if run else (None,) * 5), *(tuple(ev) if ev else (None,) * 4)))

    def _drop(self, path: str) -> None:
        for table in ("runs", "events", "evaluations", "documents"):
            self.db.execute(f"DELETE FROM {table} WHERE path = ?", (path,))

    def _index_lane(self, path: str, content: bytes) -> None:
        try:
            doc = json.loads(content)
        except ValueError:
            return
        for run in doc.get("runs") or []:
            if not isinstance(run, dict) or "id" not in run:
                continue
            tasks = run.get("tasks") or []
            current = run.get("current", 0)
            now = tasks[current] if isinstance(current, int) and 0 <= current < len(tasks) else {}
            task = now.get("name")
            # an active run whose task nothing answers shows what would (tasks.answerers)
            message = run.get("message") or (now.get("waiting") if run.get("state") not in _ENDED else None)
            trigger = run.get("trigger") or {}
            change = (trigger.get("data") or {}).get("configurationChange") or {}
            self.db.execute(
                "INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (run["id"], run.get("context"), run.get("stage"), run.get("service"), run.get("index", 0),
                 run.get("sequence"), run.get("state"), run.get("result"), run.get("status"),
                 message, task, run.get("triggeredAt"), run.get("startedAt"),
                 run.get("finishedAt"), run.get("gitcommitid"), change.get("commit"), path))
            rows = []
            for event in [trigger] + list(run.get("events") or []):
                if not isinstance(event, dict) or "id" not in event:
                    continue
                data = event.get("data") or {}
                rows.append((event["id"], event.get("shkeptncontext") or run.get("context"),
                             data.get("stage") or run.get("stage"), data.get("service") or run.get("service"),
                             event.get("type"), event.get("time"), event.get("triggeredid"), event.get("source"),
                             run["id"], path, _DUMPS(event), event_order(event)))
            self.db.executemany("INSERT OR REPLACE INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)

    def _index_evaluation(self, path: str, content: bytes) -> None:
        try:
            doc = json.loads(content)
        except ValueError:
            return
        parts = path.split("/")
        stage, service = (parts[1], parts[2]) if len(parts) >= 4 else (None, None)
        result = doc.get("result")
        score = doc.get("score")
        self.db.execute(
            "INSERT OR REPLACE INTO evaluations VALUES (?,?,?,?,?,?,?,?)",
            (path, stage, service, doc.get("context"), doc.get("time") or doc.get("timeEnd"),
             result if isinstance(result, str) else None,
             float(score) if isinstance(score, (int, float)) else None,
             1 if doc.get("invalidated") else 0))

    # -- queries --------------------------------------------------------------------------

    @_locked
    def runs(self, *, context: str | None = None, stage: str | None = None, service: str | None = None,
             states: Iterable[str] | None = None, sequence: str | None = None,
             limit: int = 200) -> list[dict[str, Any]]:
        where, args = _where(context=context, stage=stage, service=service, sequence=sequence)
        states = list(states or [])
        if states:
            where.append(f"state IN ({','.join('?' * len(states))})")
            args += states
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY triggered_at DESC, id DESC LIMIT ?"
        return [dict(r) for r in self.db.execute(sql, (*args, limit))]

    @_locked
    def events(self, *, context: str | None = None, stage: str | None = None, service: str | None = None,
               type_prefix: str | None = None, run_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        where, args = _where(context=context, stage=stage, service=service, run_id=run_id)
        if type_prefix:
            where.append("type LIKE ?")
            args.append(type_prefix.replace("%", "") + "%")
        sql = "SELECT body FROM events" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY ord DESC, id DESC LIMIT ?"
        return [json.loads(r[0]) for r in self.db.execute(sql, (*args, limit))]

    @_locked
    def evaluations(self, *, stage: str | None = None, service: str | None = None,
                    limit: int = 50) -> list[dict[str, Any]]:
        where, args = _where(stage=stage, service=service)
        sql = "SELECT * FROM evaluations" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY path DESC LIMIT ?"
        return [dict(r) for r in self.db.execute(sql, (*args, limit))]

    @_locked
    def lanes(self) -> list[dict[str, Any]]:
        """Per (stage, service): its newest run, its active runs and its newest valid evaluation
        (the web board asks this for thousands of lanes per render: one read of `lane_summary`
        and one indexed query for the active runs, whatever the length of the history)."""
        active = ("triggered", "started", "waitingForApproval", "waiting", "paused")
        lanes: dict[tuple[str, str], dict[str, Any]] = {}
        for r in self.db.execute("SELECT * FROM lane_summary"):
            lanes[(r[0], r[1])] = {
                "stage": r[0], "service": r[1], "active": [],
                "last": {"sequence": r[2], "state": r[3], "result": r[4], "message": r[5], "context": r[6]}
                if r[6] is not None else None,
                "evaluation": {"path": r[7], "result": r[8], "score": r[9], "context": r[10]}
                if r[7] is not None else None}
        for r in self.db.execute(f"SELECT stage, service, sequence, state, task, context, message FROM runs "
                                 f"WHERE state IN ({','.join('?' * len(active))}) ORDER BY triggered_at, id",
                                 active):
            lane = lanes.setdefault((r[0], r[1]), {"stage": r[0], "service": r[1], "active": [], "last": None,
                                                   "evaluation": None})
            lane["active"].append({"sequence": r[2], "state": r[3], "task": r[4], "context": r[5], "message": r[6]})
        return list(lanes.values())

    @_locked
    def evaluation_rows(self, *, context: str | None = None, stage: str | None = None,
                        service: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Evaluation rows (invalidated ones included), newest first."""
        where, args = _where(context=context, stage=stage, service=service)
        sql = "SELECT * FROM evaluations" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY path DESC LIMIT ?"
        return [dict(r) for r in self.db.execute(sql, (*args, limit))]

    @_locked
    def document(self, path: str) -> Any | None:
        row = self.db.execute("SELECT body FROM documents WHERE path = ?", (path,)).fetchone()
        if row is None:
            return None
        try:
            return json.loads(row[0])
        except ValueError:
            return None

    @_locked
    def documents(self, prefix: str) -> dict[str, Any]:
        rows = self.db.execute("SELECT path, body FROM documents WHERE path LIKE ? ORDER BY path",
                               (prefix + "%",))
        return {r[0]: json.loads(r[1]) for r in rows}

    @_locked
    def dump(self) -> dict[str, list[tuple]]:
        """Every row of every table except meta, in a canonical order (for equality checks)."""
        out = {}
        for table, key in (("runs", "id"), ("events", "id"), ("evaluations", "path"), ("documents", "path")):
            out[table] = [tuple(r) for r in self.db.execute(f"SELECT * FROM {table} ORDER BY {key}")]
        return out

    @_locked
    def counts(self) -> dict[str, int]:
        return {t: self.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("runs", "events", "evaluations", "documents")}


def event_order(event: Mapping[str, Any]) -> int:
    """The order the event log sorts by: the engine's `order` attribute (World.event_order);
    for records written before it existed, the event's time in ms × 10,000."""
    order = event.get("order")
    if isinstance(order, int) and not isinstance(order, bool):
        return order
    try:
        when = _dt.datetime.fromisoformat(str(event.get("time") or "").replace("Z", "+00:00"))
    except ValueError:
        return 0
    return int(when.timestamp() * 1000) * 10_000


def _where(**filters: str | None) -> tuple[list[str], list[Any]]:
    where, args = [], []
    for column, value in filters.items():
        if value:
            where.append(f"{column} = ?")
            args.append(value)
    return where, args


_DUMPS = json.JSONEncoder(separators=(",", ":"), sort_keys=True).encode
REBUILD_BATCH = 500          # files per transaction when the index is rebuilt from the tip tree


def _known(mirror: Any, oid: str) -> bool:
    try:
        mirror.commit(oid)
        return True
    except Exception:  # noqa: BLE001 - any lookup failure means "rebuild from scratch"
        return False

