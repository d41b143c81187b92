"""Registered Keptn integrations, their subscriptions, heartbeats and forwarded error logs.

Kept in their own SQLite file in the work dir (`integrations.sqlite`), not on the results
branch: a registration is live state like a lease — renewed by every ping (go-sdk pings each
5 s), meaningless once the integration is gone — and it must survive a restart of `serve`,
because go-sdk never registers again: after ten refused pings it stops. Deleting the file
is safe in the way deleting Keptn's MongoDB collection was: integrations get 404 on their
next ping and their orchestrator restarts them, which registers them again.

Rules (ids, validation, filters) live in `engine.uniform`; this is storage.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reconciler.engine import uniform

FILE = "integrations.sqlite"
MAX_LOGS = 10_000           # oldest forwarded log entries are dropped beyond this

SCHEMA = """
CREATE TABLE IF NOT EXISTS integrations (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, namespace TEXT NOT NULL, body TEXT NOT NULL, lastseen REAL NOT NULL);
CREATE INDEX IF NOT EXISTS integrations_name ON integrations (name, namespace);
CREATE TABLE IF NOT EXISTS logs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, integrationid TEXT, time TEXT, body TEXT NOT NULL);
"""


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1000):03d}Z"


class Integrations:
    """Thread-safe: the HTTP handlers write, `status` reads (another connection, or read-only)."""

    def __init__(self, path: Path | str, *, readonly: bool = False, clock: Callable[[], float] = time.time,
                 new_id: Callable[[], str] = lambda: str(uuid.uuid4())):
        self.path = Path(path)
        self.clock = clock
        self.new_id = new_id
        self._lock = threading.RLock()
        if readonly:
            self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False, timeout=5.0)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, check_same_thread=False, timeout=5.0)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(SCHEMA)
            self.db.commit()

    @classmethod
    def open_readonly(cls, workdir: Path) -> Integrations | None:
        path = workdir / FILE
        return cls(path, readonly=True) if path.exists() else None

    def close(self) -> None:
        self.db.close()

    # -- registrations -------------------------------------------------------------------

    def _load(self, row: tuple[str, float]) -> dict[str, Any]:
        body = json.loads(row[0])
        body["metadata"]["lastseen"] = iso(row[1])
        return body

    def _save(self, body: dict[str, Any], lastseen: float) -> None:
        stored = json.loads(json.dumps(body))
        stored["metadata"].pop("lastseen", None)
        self.db.execute("INSERT OR REPLACE INTO integrations VALUES (?,?,?,?,?)",
                        (body["id"], body["name"], body["metadata"]["kubernetesmetadata"]["namespace"],
                         json.dumps(stored, separators=(",", ":")), lastseen))

    def register(self, raw: Any) -> tuple[str, bool]:
        """Keptn's Register: (id, created). An integration already known by name and namespace
        keeps its id and subscriptions (it adopts the sent ones only when it has none) and
        gets its versions and heartbeat updated. Raises `uniform.RegistrationError`."""
        integration = uniform.normalise_integration(raw)
        meta = integration["metadata"]
        namespace = meta["kubernetesmetadata"]["namespace"]
        now = self.clock()
        with self._lock, self.db:
            row = self.db.execute("SELECT body, lastseen FROM integrations WHERE name = ? AND namespace = ? "
                                  "ORDER BY lastseen DESC LIMIT 1", (integration["name"], namespace)).fetchone()
            if row is not None:
                existing = self._load(row)
                existing["metadata"].update(integrationversion=meta["integrationversion"],
                                            distributorversion=meta["distributorversion"])
                if not existing.get("subscriptions"):
                    existing["subscriptions"] = [dict(s, id=self.new_id()) for s in integration["subscriptions"]]
                self._save(existing, now)
                return existing["id"], False
            integration["id"] = uniform.integration_id(integration["name"], namespace, meta["hostname"])
            integration["subscriptions"] = [dict(s, id=self.new_id()) for s in integration["subscriptions"]]
            self._save(integration, now)
            return integration["id"], True

    def get(self, integration_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self.db.execute("SELECT body, lastseen FROM integrations WHERE id = ?",
                                  (integration_id,)).fetchone()
        return None if row is None else self._load(row)

    def ping(self, integration_id: str) -> dict[str, Any] | None:
        """Keptn's KeepAlive: renew the heartbeat, answer the integration with its subscriptions."""
        with self._lock, self.db:
            cur = self.db.execute("UPDATE integrations SET lastseen = ? WHERE id = ?", (self.clock(), integration_id))
            if cur.rowcount == 0:
                return None
        return self.get(integration_id)

    def unregister(self, integration_id: str) -> bool:
        with self._lock, self.db:
            return self.db.execute("DELETE FROM integrations WHERE id = ?", (integration_id,)).rowcount > 0

    def registrations(self, *, id: str = "", name: str = "", namespace: str = "", hostname: str = "",
             project: str = "", stage: str = "", service: str = "") -> list[dict[str, Any]]:
        """Keptn's GetRegistrations with its query filters; project/stage/service keep the
        integrations with a subscription whose filter admits them."""
        with self._lock:
            rows = self.db.execute("SELECT body, lastseen FROM integrations ORDER BY name, id").fetchall()
        out = []
        for row in rows:
            item = self._load(row)
            meta = item["metadata"]
            if (id and item["id"] != id or name and item["name"] != name
                    or namespace and meta["kubernetesmetadata"]["namespace"] != namespace
                    or hostname and meta["hostname"] != hostname):
                continue
            if (project or stage or service) and not any(
                    uniform.filter_matches(s.get("filter"), project or None, stage or None, service or None)
                    for s in item.get("subscriptions") or []):
                continue
            out.append(item)
        return out

    # -- subscriptions -------------------------------------------------------------------

    def _update(self, integration_id: str, change: Callable[[dict[str, Any]], Any]) -> Any:
        with self._lock, self.db:
            row = self.db.execute("SELECT body, lastseen FROM integrations WHERE id = ?",
                                  (integration_id,)).fetchone()
            if row is None:
                return None
            body = self._load(row)
            answer = change(body)
            self._save(body, row[1])
            return answer

    def put_subscription(self, integration_id: str, raw: Any, subscription_id: str | None = None) -> str | None:
        """Create (no id) or replace a subscription; None when the integration is unknown."""
        existing = self.get(integration_id)
        if existing is None:
            return None
        sub = uniform.normalise_subscription(raw, one_project=existing["name"] == "webhook-service")
        sub["id"] = subscription_id or self.new_id()

        def change(body: dict[str, Any]) -> str:
            subs = [s for s in body.get("subscriptions") or [] if s.get("id") != sub["id"]]
            body["subscriptions"] = subs + [sub]
            return sub["id"]
        return self._update(integration_id, change)

    def delete_subscription(self, integration_id: str, subscription_id: str) -> bool:
        def change(body: dict[str, Any]) -> bool:
            before = len(body.get("subscriptions") or [])
            body["subscriptions"] = [s for s in body.get("subscriptions") or [] if s.get("id") != subscription_id]
            return len(body["subscriptions"]) < before
        return bool(self._update(integration_id, change))

    # -- forwarded logs ------------------------------------------------------------------

    def add_logs(self, entries: list[dict[str, Any]]) -> int:
        with self._lock, self.db:
            for entry in entries:
                self.db.execute("INSERT INTO logs (integrationid, time, body) VALUES (?,?,?)",
                                (str(entry.get("integrationid") or ""), str(entry.get("time") or iso(self.clock())),
                                 json.dumps(entry, separators=(",", ":"))))
            self.db.execute("DELETE FROM logs WHERE seq <= (SELECT MAX(seq) FROM logs) - ?", (MAX_LOGS,))
        return len(entries)

    def logs(self, integration_id: str = "", limit: int = 100) -> list[dict[str, Any]]:
        sql = "SELECT body FROM logs" + (" WHERE integrationid = ?" if integration_id else "")
        args: tuple = (integration_id,) if integration_id else ()
        with self._lock:
            rows = self.db.execute(sql + " ORDER BY seq DESC LIMIT ?", (*args, limit)).fetchall()
        return [json.loads(r[0]) for r in rows]

