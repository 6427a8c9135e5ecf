"""The provenance store: what made every product, in SQLite beside the data.

``DATA/asnflow-provenance.sqlite`` (standard library ``sqlite3``, WAL mode)
holds one row per node execution: the node, module, version, parameters,
the association's meaning, its inputs and outputs with their content hashes,
the reference files and CRDS context, host, start, duration and status. Only
the scheduler process writes it: one transaction when a node starts and one
when it finishes, so a run killed by SIGKILL loses at most the nodes that
were running, and those are marked *running* forever, which the next run
reads as "interrupted".

It also caches file content hashes by (size, mtime, inode), so an unchanged
file is never read twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from asnflow.errors import DispatchError

STORE_NAME = "asnflow-provenance.sqlite"
SCHEMA_NAME = "asnflow-provenance"
SCHEMA_VERSION = "1"
RUNNING = "running"
ADOPTED = "adopted"  # outputs found up to date by modification times before the store knew them
_CHUNK = 1 << 20

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE executions (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    node_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    asn_type TEXT NOT NULL,
    association_file TEXT NOT NULL,
    meaning TEXT NOT NULL,
    module TEXT NOT NULL,
    version TEXT NOT NULL,
    parameters TEXT NOT NULL,
    crds_context TEXT NOT NULL,
    host TEXT NOT NULL,
    started TEXT NOT NULL,
    duration REAL NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX executions_node ON executions (node_id, id);
CREATE TABLE files (
    execution_id INTEGER NOT NULL REFERENCES executions (id),
    role TEXT NOT NULL,          -- input | output | reference
    name TEXT NOT NULL,          -- file name in the data folder; reftype for references
    path TEXT NOT NULL DEFAULT '',
    hash TEXT NOT NULL DEFAULT ''
);
CREATE INDEX files_name ON files (name, role);
CREATE INDEX files_execution ON files (execution_id);
CREATE TABLE file_hashes (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    hash TEXT NOT NULL
);
"""


# ---------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class Fingerprint:
    """Everything that decides a node's outputs; equal fingerprints, equal products."""

    meaning: str  # canonical JSON of what the association says (or of the exposure's products)
    module: str
    version: str
    parameters: str  # canonical JSON
    inputs: Mapping[str, str]  # file name -> content hash ("" when not on disk)
    references: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # reftype -> (path, hash)
    crds_context: str = ""


@dataclass(frozen=True)
class Execution:
    """One row of the store, with its files."""

    id: int
    run_id: str
    node_id: str
    kind: str
    asn_type: str
    association_file: str
    meaning: str
    module: str
    version: str
    parameters: str
    crds_context: str
    host: str
    started: str
    duration: float
    status: str
    reason: str
    attempts: int
    inputs: Mapping[str, str]
    outputs: Mapping[str, str]
    references: Mapping[str, tuple[str, str]]

    def fingerprint(self) -> Fingerprint:
        return Fingerprint(
            self.meaning, self.module, self.version, self.parameters, self.inputs, self.references, self.crds_context
        )


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


# ---------------------------------------------------------------------------
# Content hashes


def hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class HashCache:
    """Content hashes keyed by path, trusted while size, mtime and inode are unchanged."""

    def __init__(self, known: Mapping[str, tuple[int, int, int, str]] | None = None) -> None:
        self._known: dict[str, tuple[int, int, int, str]] = dict(known or {})
        self.fresh: dict[str, tuple[int, int, int, str]] = {}  # computed since loading: to save

    def hash(self, path: Path) -> str:
        """The file's content hash, or "" when it is not a regular file."""
        key = str(path)
        try:
            stat = os.stat(path)
        except OSError:
            return ""
        if not os.path.isfile(path):
            return ""
        identity = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
        known = self._known.get(key)
        if known is not None and known[:3] == identity:
            return known[3]
        try:
            digest = hash_file(path)
        except OSError:
            return ""
        entry = (*identity, digest)
        self._known[key] = entry
        self.fresh[key] = entry
        return digest


# ---------------------------------------------------------------------------
# The store


def store_path(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / STORE_NAME


def _unreadable(path: Path, why: str) -> DispatchError:
    return DispatchError(
        f"the provenance store is unusable: {why}",
        path=str(path),
        hint="move it away, or run with --rebuild-provenance to start a new one (outputs already made are kept)",
    )


class ProvenanceStore:
    """Read and (in the scheduler only) write ``DATA/asnflow-provenance.sqlite``."""

    def __init__(self, connection: sqlite3.Connection | None, path: Path, writable: bool) -> None:
        self._db = connection
        self.path = path
        self.writable = writable
        self._latest: dict[str, Execution] | None = None
        self._makers: dict[str, int] | None = None
        self._by_id: dict[int, Execution | None] = {}

    # -- opening -------------------------------------------------------------
    @classmethod
    def open(cls, data_dir: str | os.PathLike[str], *, write: bool = False, rebuild: bool = False) -> ProvenanceStore:
        """Open the store; read-only opening of an absent store gives an empty one.

        A corrupt or foreign file raises :class:`DispatchError` (one line)
        unless ``rebuild``, which moves it aside as ``.corrupt`` so that a new
        one starts (a sound store is kept as it is).
        """
        path = store_path(data_dir)
        if rebuild and path.exists():
            try:
                cls.open(data_dir, write=write).close()
            except DispatchError:
                _set_aside(path)
        if not write:
            if not path.exists():
                return cls(None, path, False)
            connection = _connect(f"{path.resolve().as_uri()}?mode=ro", path, uri=True)
            cls._check(connection, path)
            return cls(connection, path, False)
        fresh = not path.exists()
        connection = _connect(str(path), path)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            if fresh:
                with connection:
                    connection.executescript(_SCHEMA)
                    connection.executemany(
                        "INSERT INTO meta VALUES (?, ?)", [("schema", SCHEMA_NAME), ("version", SCHEMA_VERSION)]
                    )
            else:
                cls._check(connection, path)
        except sqlite3.DatabaseError as exc:
            connection.close()
            raise _unreadable(path, str(exc)) from None
        except OSError as exc:
            connection.close()
            raise DispatchError(f"cannot write the provenance store: {exc.strerror}", path=str(path)) from None
        return cls(connection, path, True)

    @classmethod
    def empty(cls, data_dir: str | os.PathLike[str]) -> ProvenanceStore:
        """A store that knows nothing and cannot be written (provenance turned off)."""
        return cls(None, store_path(data_dir), False)

    @staticmethod
    def _check(connection: sqlite3.Connection, path: Path) -> None:
        try:
            rows = dict(connection.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            connection.close()
            why = "not an asnflow provenance store" if "no such table" in str(exc) else str(exc)
            raise _unreadable(path, why) from None
        if rows.get("schema") != SCHEMA_NAME:
            connection.close()
            raise _unreadable(path, "not an asnflow provenance store")
        if rows.get("version") != SCHEMA_VERSION:
            connection.close()
            raise _unreadable(path, f"store version {rows.get('version')} is not {SCHEMA_VERSION}")

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> ProvenanceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -------------------------------------------------------------
    def known_hashes(self) -> dict[str, tuple[int, int, int, str]]:
        if self._db is None:
            return {}
        return {row[0]: (row[1], row[2], row[3], row[4]) for row in self._db.execute("SELECT * FROM file_hashes")}

    def latest(self, node_id: str) -> Execution | None:
        """The node's last execution (any status), or None."""
        if self._latest is None:
            self._latest = {
                e.node_id: e for e in self._executions("WHERE id IN (SELECT MAX(id) FROM executions GROUP BY node_id)")
            }
        return self._latest.get(node_id)

    def maker_of(self, file_name: str) -> Execution | None:
        """The last execution that left ``file_name`` (succeeded or adopted), whatever its node."""
        if self._makers is None:
            self._makers = {}
            if self._db is not None:
                try:
                    self._makers = dict(self._db.execute(
                        "SELECT f.name, MAX(e.id) FROM files f JOIN executions e ON f.execution_id = e.id"
                        " WHERE f.role = 'output' AND e.status IN ('succeeded', ?) GROUP BY f.name",
                        (ADOPTED,),
                    ).fetchall())
                except sqlite3.DatabaseError as exc:
                    raise _unreadable(self.path, str(exc)) from None
        execution_id = self._makers.get(file_name)
        if execution_id is None:
            return None
        if execution_id not in self._by_id:
            found = self._executions("WHERE id = ?", (execution_id,))
            self._by_id[execution_id] = found[0] if found else None
        return self._by_id[execution_id]

    def history(self, file_name: str) -> list[Execution]:
        """Every execution that wrote ``file_name``, oldest first."""
        return self._executions(
            "WHERE id IN (SELECT execution_id FROM files WHERE role = 'output' AND name = ?) ORDER BY id", (file_name,)
        )

    def node_history(self, node_id: str) -> list[Execution]:
        return self._executions("WHERE node_id = ? ORDER BY id", (node_id,))

    def failed(self) -> list[Execution]:
        """Nodes whose last execution failed."""
        return sorted(
            (
                e
                for e in self._executions("WHERE id IN (SELECT MAX(id) FROM executions GROUP BY node_id)")
                if e.status == "failed"
            ),
            key=lambda e: e.node_id,
        )

    def _executions(self, where: str, parameters: Iterable[Any] = ()) -> list[Execution]:
        if self._db is None:
            return []
        try:
            rows = self._db.execute(f"SELECT * FROM executions {where}", tuple(parameters)).fetchall()
            files: dict[int, list[tuple[str, str, str, str]]] = {}
            ids = [row[0] for row in rows]
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for execution_id, role, name, path, digest in self._db.execute(
                    f"SELECT execution_id, role, name, path, hash FROM files WHERE execution_id IN ({marks})", chunk
                ):
                    files.setdefault(execution_id, []).append((role, name, path, digest))
        except sqlite3.DatabaseError as exc:
            raise _unreadable(self.path, str(exc)) from None
        return [_execution(row, files.get(row[0], [])) for row in rows]

    # -- writing (scheduler only) ----------------------------------------------
    def started(self, run_id: str, node: Any, fingerprint: Fingerprint, status: str = RUNNING) -> int:
        """Record that a node starts (or, with ``status=adopted``, that its outputs are taken as made)."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO executions (run_id, node_id, kind, asn_type, association_file, meaning, module, version,"
                " parameters, crds_context, host, started, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    node.node_id,
                    node.kind,
                    node.asn_type,
                    str(node.path) if node.kind == "association" and node.path is not None else "",
                    fingerprint.meaning,
                    fingerprint.module,
                    fingerprint.version,
                    fingerprint.parameters,
                    fingerprint.crds_context,
                    socket.gethostname(),
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    status,
                ),
            )
            return int(cursor.lastrowid)

    def finished(
        self,
        execution_id: int,
        *,
        status: str,
        reason: str,
        duration: float,
        attempts: int,
        fingerprint: Fingerprint,
        outputs: Mapping[str, str],
        hashes: HashCache,
    ) -> None:
        """One transaction: the outcome, the files with their hashes, and newly computed hashes."""
        rows = [(execution_id, "input", n, "", h) for n, h in fingerprint.inputs.items()]
        rows += [(execution_id, "output", n, "", h) for n, h in outputs.items()]
        rows += [(execution_id, "reference", t, p, h) for t, (p, h) in fingerprint.references.items()]
        with self._transaction() as db:
            db.execute(
                "UPDATE executions SET status = ?, reason = ?, duration = ?, attempts = ?, crds_context = ?"
                " WHERE id = ?",
                (status, reason, round(duration, 3), attempts, fingerprint.crds_context, execution_id),
            )
            db.executemany("INSERT INTO files VALUES (?, ?, ?, ?, ?)", rows)
            self._save_hashes(db, hashes)

    def _save_hashes(self, db: sqlite3.Connection, hashes: HashCache) -> None:
        if hashes.fresh:
            db.executemany(
                "INSERT OR REPLACE INTO file_hashes VALUES (?, ?, ?, ?, ?)",
                [(k, *v) for k, v in hashes.fresh.items()],
            )
            hashes.fresh.clear()

    def _transaction(self) -> Any:
        if self._db is None or not self.writable:
            raise DispatchError("the provenance store is open read-only", path=str(self.path))
        return _Transaction(self._db, self.path)


class _Transaction:
    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db = db
        self.path = path

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> Literal[False]:
        if kind is None:
            try:
                self.db.execute("COMMIT")
                return False
            except sqlite3.Error as error:
                self.db.execute("ROLLBACK")
                raise DispatchError(f"cannot write the provenance store: {error}", path=str(self.path)) from None
        self.db.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise DispatchError(f"cannot write the provenance store: {exc}", path=str(self.path)) from None
        return False


def _connect(target: str, path: Path, uri: bool = False) -> sqlite3.Connection:
    try:
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
        return sqlite3.connect(target, uri=uri, isolation_level=None, timeout=10.0)
    except sqlite3.Error as exc:
        raise DispatchError(f"cannot open the provenance store: {exc}", path=str(path)) from None


def _set_aside(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        if part.exists():
            os.replace(part, path.with_name(path.name + suffix + ".corrupt"))


# The columns of the executions table, in order: Execution's fields before its files.
_ROW_FIELDS = tuple(f.name for f in fields(Execution) if f.name not in ("inputs", "outputs", "references"))


def _execution(row: tuple[Any, ...], files: list[tuple[str, str, str, str]]) -> Execution:
    inputs = {name: digest for role, name, _, digest in files if role == "input"}
    outputs = {name: digest for role, name, _, digest in files if role == "output"}
    references = {name: (path, digest) for role, name, path, digest in files if role == "reference"}
    return Execution(**dict(zip(_ROW_FIELDS, row, strict=True)), inputs=inputs, outputs=outputs,
                     references=references)


def iter_rows(executions: Iterable[Execution]) -> Iterator[dict[str, Any]]:
    """Executions as plain dicts (for ``--format json``)."""
    for e in executions:
        yield {
            "run": e.run_id,
            "node": e.node_id,
            "kind": e.kind,
            "asn_type": e.asn_type,
            "association_file": e.association_file,
            "module": e.module,
            "version": e.version,
            "parameters": json.loads(e.parameters or "{}"),
            "crds_context": e.crds_context,
            "host": e.host,
            "started": e.started,
            "duration": e.duration,
            "status": e.status,
            "reason": e.reason,
            "attempts": e.attempts,
            "inputs": dict(e.inputs),
            "outputs": dict(e.outputs),
            "references": {t: {"path": p, "hash": h} for t, (p, h) in e.references.items()},
        }
