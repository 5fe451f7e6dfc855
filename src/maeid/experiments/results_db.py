"""The results database: one SQLite file holding every run of every sweep.

Why SQLite: it is embedded (no server), one file a researcher can copy or query with
`sqlite3`, and its transactions give exactly the guarantees a sweep needs:

- **No duplicate work.** A worker claims a run inside `BEGIN IMMEDIATE`, which takes the
  database's write lock before reading, so two workers can never both see the same run
  as free and take it.
- **No half-written row.** A run flips to `done` in the same transaction that stores its
  metrics; a process killed with SIGKILL at any moment leaves either the old row or the
  new one, never a mix.
- **Crash recovery.** A claimed run carries its owner (`host:pid`) and a heartbeat. A run
  whose owner is dead (same host, pid gone) or silent (heartbeat older than
  `stale_after_s`) is free to claim again; the new owner resumes from the run's last
  checkpoint. Each claim has a fresh token, so an owner who lost its claim cannot
  overwrite its successor's result.

WAL mode lets readers (the report, a progress bar) run while a worker writes. WAL needs
all processes on one host (shared memory), which holds for the local launcher; the SLURM
launcher keeps the database on the submitting host and has jobs return their results.

Schema (`SCHEMA_VERSION` 1):

- `runs`: one row per distinct run (unique `config_hash`); the sweep axes `mask_ratio`,
  `mask_unit`, `seed` are promoted to columns, the resolved config and the grid values
  (`params`) are JSON, as are `metrics` and `artefacts` (paths).
- `metrics`: (run_id, name, value) for every scalar metric, nested names flattened with
  dots (`r2.level_1`), so the report and users can query with plain SQL.
- `sweep_runs`: which sweeps a run belongs to (a run can be shared by several sweeps).
"""

from __future__ import annotations

import json
import math
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maeid.experiments.config_hash import canonical_json

SCHEMA_VERSION = 1
STATUSES = ("pending", "running", "done", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id           INTEGER PRIMARY KEY,
    config_hash  TEXT NOT NULL UNIQUE,
    config       TEXT NOT NULL,
    params       TEXT NOT NULL,
    mask_ratio   REAL,
    mask_unit    INTEGER,
    seed         INTEGER,
    run_dir      TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'running', 'done', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    claimed_by   TEXT,
    claim_token  TEXT,
    heartbeat_at REAL,
    created_at   REAL NOT NULL,
    started_at   REAL,
    finished_at  REAL,
    duration_s   REAL,
    metrics      TEXT,
    artefacts    TEXT,
    error        TEXT
);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status);
CREATE TABLE IF NOT EXISTS metrics (
    run_id INTEGER NOT NULL REFERENCES runs (id),
    name   TEXT NOT NULL,
    value  REAL NOT NULL,
    PRIMARY KEY (run_id, name)
);
CREATE TABLE IF NOT EXISTS sweep_runs (
    sweep  TEXT NOT NULL,
    run_id INTEGER NOT NULL REFERENCES runs (id),
    PRIMARY KEY (sweep, run_id)
);
"""


@dataclass(frozen=True)
class RunRecord:
    """One row of `runs`, decoded."""

    id: int
    config_hash: str
    config: dict[str, Any]
    params: dict[str, Any]
    mask_ratio: float | None
    mask_unit: int | None
    seed: int | None
    run_dir: str
    status: str
    attempts: int
    claimed_by: str | None
    claim_token: str | None
    heartbeat_at: float | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    duration_s: float | None
    metrics: dict[str, Any] | None
    artefacts: dict[str, str] | None
    error: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> RunRecord:
        values = dict(row)
        for key in ("config", "params", "metrics", "artefacts"):
            values[key] = None if values[key] is None else json.loads(values[key])
        return cls(**values)


@dataclass(frozen=True)
class Claim:
    """A run this process owns until it finishes it (or is found dead)."""

    run: RunRecord
    token: str


def owner_id() -> str:
    """This process as `host:pid`, the form `claimed_by` stores."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_is_dead(claimed_by: str | None) -> bool:
    """True when `claimed_by` names a process on this host that no longer exists.

    Owners on other hosts cannot be checked here; for them only the heartbeat counts.
    """
    if not claimed_by or ":" not in claimed_by:
        return False
    host, _, pid = claimed_by.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by another user
        return False
    return _is_zombie(int(pid))


def _is_zombie(pid: int) -> bool:
    # A killed child that its parent has not reaped yet still answers kill(pid, 0).
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] == "Z"


def flatten_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Finite scalar leaves of a nested metrics dict, keyed by dotted path."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_metrics(value, prefix=f"{name}."))
        elif isinstance(value, bool):
            flat[name] = float(value)
        elif isinstance(value, int | float) and math.isfinite(value):
            flat[name] = float(value)
    return flat


def finite_or_none(value: Any) -> Any:
    """`value` with every NaN or infinite float replaced by None (strict JSON has neither).

    A regression on a constant latent, or PSNR of identical images, can give one; the run
    is still a result.
    """
    if isinstance(value, Mapping):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


SQLITE_HEADER = b"SQLite format 3\x00"


def _check_is_sqlite(path: Path) -> None:
    """Refuse an existing file that is not SQLite, before sqlite3 touches it."""
    if path.is_dir():
        raise ValueError(f"results database {path} is a folder; pass a file path (e.g. {path}.db)")
    if not path.is_file() or path.stat().st_size == 0:
        return  # a new database (sqlite3 creates it; an empty file is one too)
    with path.open("rb") as f:
        header = f.read(len(SQLITE_HEADER))
    if header != SQLITE_HEADER:
        raise ValueError(
            f"{path} is not a SQLite results database; pass the --db file that "
            "`maeid sweep` wrote, or a new path"
        )


def _connect_read_only(path: Path, timeout_s: float) -> sqlite3.Connection:
    if not path.is_file():
        raise FileNotFoundError(f"results database {path} not found; run `maeid sweep` first")
    # A WAL database keeps its -wal file while any connection is open. With none open
    # (no -wal), `immutable` reads the file as it is without making -wal/-shm beside it,
    # which a read-only connection would otherwise leave behind (or fail to make in a
    # read-only folder). With a writer live, read through its WAL as usual.
    live = path.with_name(path.name + "-wal").exists()
    uri = f"{path.absolute().as_uri()}?mode=ro" + ("" if live else "&immutable=1")
    conn = sqlite3.connect(uri, uri=True, timeout=timeout_s, isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


class ResultsDB:
    """The sweep results database at `path` (created on first use).

    Every public method is one transaction, so each is atomic on its own. One instance
    per process: sqlite3 connections are not shared across processes.

    `read_only` (the report, a dry run) opens an existing database without changing a
    byte of it or creating anything beside it; a SQLite file of another program is
    refused either way, before anything is written to it.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        stale_after_s: float = 120.0,
        timeout_s: float = 60.0,
        read_only: bool = False,
    ):
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            raise FileNotFoundError(
                f"directory {self.path.parent} for the results database does not exist; "
                "create it or pick another --db path"
            )
        _check_is_sqlite(self.path)
        self.stale_after_s = stale_after_s
        self.read_only = read_only
        if read_only:
            self._conn = _connect_read_only(self.path, timeout_s)
            self._check_ours()
            self._check_version()
            return
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction is
        # exactly what the code says it is.
        self._conn = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._check_ours()  # before WAL mode or the schema touch a foreign file
        self._conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
        self._enable_wal(timeout_s)
        self._conn.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints in WAL
        self._conn.execute("PRAGMA foreign_keys = ON")
        with self._transaction():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._conn.execute(statement)
            self._check_version()

    def _enable_wal(self, timeout_s: float) -> None:
        # Switching a new database to WAL needs a moment of exclusive access and, unlike
        # ordinary statements, does not wait on busy_timeout: two sweeps that create the
        # same database at once would see "database is locked". Retry until the deadline.
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _check_ours(self) -> None:
        """Refuse a SQLite database with tables but not ours (another program's file)."""
        try:
            rows = self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            tables = {row[0] for row in rows}
        except sqlite3.DatabaseError as err:
            self._conn.close()
            raise ValueError(f"{self.path} cannot be read as SQLite ({err}); pass the --db "
                             "file that `maeid sweep` wrote, or a new path") from None  # fmt: skip
        if (tables or self.read_only) and not {"meta", "runs"} <= tables:
            self._conn.close()
            held = f"its tables: {', '.join(sorted(tables))}" if tables else "it is empty"
            raise ValueError(
                f"{self.path} is a SQLite database but not a maeid results database ({held}); "
                "pass the --db file that `maeid sweep` wrote, or a new path"
            )

    def _check_version(self) -> None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None and not self.read_only:
            self._conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
            )
        elif row is not None and int(row["value"]) != SCHEMA_VERSION:
            raise ValueError(
                f"{self.path} has results schema version {row['value']}, this maeid reads "
                f"version {SCHEMA_VERSION}; use a new --db file"
            )

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ResultsDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front: a read-then-write (a claim) cannot
        # interleave with another writer's.
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # --- registering -------------------------------------------------------------------

    def add_run(
        self,
        *,
        sweep: str,
        config_hash: str,
        config: Mapping[str, Any],
        params: Mapping[str, Any],
        run_dir: str | os.PathLike[str],
    ) -> int:
        """Register a run as `pending` (a no-op if its config hash is known); its id."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO runs (config_hash, config, params, mask_ratio, mask_unit,"
                " seed, run_dir, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    config_hash,
                    canonical_json(config),
                    canonical_json(params),
                    params.get("mask_ratio"),
                    params.get("mask_unit"),
                    params.get("seed"),
                    str(run_dir),
                    time.time(),
                ),
            )
            run_id = conn.execute(
                "SELECT id FROM runs WHERE config_hash = ?", (config_hash,)
            ).fetchone()["id"]
            conn.execute(
                "INSERT OR IGNORE INTO sweep_runs (sweep, run_id) VALUES (?, ?)", (sweep, run_id)
            )
        return run_id

    def retry_failed(self, sweep: str) -> int:
        """Put the sweep's failed runs back to `pending`; how many."""
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE runs SET status = 'pending', error = NULL WHERE status = 'failed' AND id"
                " IN (SELECT run_id FROM sweep_runs WHERE sweep = ?)",
                (sweep,),
            )
        return cur.rowcount

    # --- claiming and finishing ----------------------------------------------------------

    def claim_next(
        self,
        sweep: str | None = None,
        *,
        owner: str | None = None,
        only: Collection[str] | None = None,
    ) -> Claim | None:
        """Atomically take the next pending (or abandoned) run, or None when none is left;
        with `only`, among the runs with those config hashes (a spec's own points, when
        the sweep's name also holds points of a wider grid).

        Abandoned: `running`, but its owner is dead on this host or its heartbeat is older
        than `stale_after_s`.
        """
        scope = "" if sweep is None else "AND id IN (SELECT run_id FROM sweep_runs WHERE sweep = ?)"
        args: tuple[Any, ...] = () if sweep is None else (sweep,)
        with self._transaction() as conn:
            rows = conn.execute(
                f"SELECT * FROM runs WHERE status IN ('pending', 'running') {scope} ORDER BY id",
                args,
            ).fetchall()
            if only is not None:
                rows = [row for row in rows if row["config_hash"] in only]
            return self._take_first(conn, rows, owner or owner_id())

    def claim_one(self, run_id: int, *, owner: str | None = None) -> Claim | None:
        """Atomically take run `run_id` if it is pending or abandoned, else None."""
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT * FROM runs WHERE id = ? AND status IN ('pending', 'running')", (run_id,)
            ).fetchall()
            return self._take_first(conn, rows, owner or owner_id())

    def _take_first(
        self, conn: sqlite3.Connection, rows: list[sqlite3.Row], owner: str
    ) -> Claim | None:
        now = time.time()
        for row in rows:
            if row["status"] == "running" and not self._abandoned(
                row["heartbeat_at"], row["claimed_by"], now
            ):
                continue
            token = uuid.uuid4().hex
            conn.execute(
                "UPDATE runs SET status = 'running', claimed_by = ?, claim_token = ?,"
                " heartbeat_at = ?, started_at = ?, attempts = attempts + 1 WHERE id = ?",
                (owner, token, now, now, row["id"]),
            )
            claimed = conn.execute("SELECT * FROM runs WHERE id = ?", (row["id"],)).fetchone()
            return Claim(RunRecord.from_row(claimed), token)
        return None

    def release(self, claim: Claim) -> bool:
        """Give a claimed run back (`pending`), e.g. on Ctrl-C; False if already lost."""
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE runs SET status = 'pending', claim_token = NULL, claimed_by = NULL"
                " WHERE id = ? AND claim_token = ? AND status = 'running'",
                (claim.run.id, claim.token),
            )
        return cur.rowcount == 1

    def is_abandoned(self, run: RunRecord) -> bool:
        """True for a `running` run whose owner is dead or silent (free to claim)."""
        return run.status == "running" and self._abandoned(
            run.heartbeat_at, run.claimed_by, time.time()
        )

    def _abandoned(self, heartbeat_at: float | None, claimed_by: str | None, now: float) -> bool:
        silent = heartbeat_at is None or now - heartbeat_at > self.stale_after_s
        return silent or owner_is_dead(claimed_by)

    def heartbeat(self, claim: Claim) -> bool:
        """Refresh the claim's heartbeat; False if the claim was lost to another worker."""
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE runs SET heartbeat_at = ? WHERE id = ? AND claim_token = ?"
                " AND status = 'running'",
                (time.time(), claim.run.id, claim.token),
            )
        return cur.rowcount == 1

    def finish(
        self, claim: Claim, metrics: Mapping[str, Any], artefacts: Mapping[str, str]
    ) -> bool:
        """Store the run's metrics and mark it `done`, all in one transaction.

        Returns False (and writes nothing) when the claim was lost meanwhile. Non-finite
        numbers are stored as null.
        """
        metrics = finite_or_none(metrics)
        now = time.time()
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE runs SET status = 'done', finished_at = ?, duration_s = ? - started_at,"
                " metrics = ?, artefacts = ?, error = NULL, claim_token = NULL"
                " WHERE id = ? AND claim_token = ? AND status = 'running'",
                (
                    now,
                    now,
                    canonical_json(metrics),
                    canonical_json(artefacts),
                    claim.run.id,
                    claim.token,
                ),
            )
            if cur.rowcount != 1:
                return False
            conn.execute("DELETE FROM metrics WHERE run_id = ?", (claim.run.id,))
            conn.executemany(
                "INSERT INTO metrics (run_id, name, value) VALUES (?, ?, ?)",
                [(claim.run.id, name, value) for name, value in flatten_metrics(metrics).items()],
            )
        return True

    def fail(self, claim: Claim, error: str) -> bool:
        """Mark the run `failed` with its error message; False if the claim was lost."""
        now = time.time()
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE runs SET status = 'failed', finished_at = ?, duration_s = ? - started_at,"
                " error = ?, claim_token = NULL WHERE id = ? AND claim_token = ?"
                " AND status = 'running'",
                (now, now, error, claim.run.id, claim.token),
            )
        return cur.rowcount == 1

    def set_skipped(self, sweep: str, cells: list[dict[str, Any]]) -> None:
        """Record the sweep's grid cells that cannot run ({params, reason} each)."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (f"skipped:{sweep}", canonical_json(cells)),
            )

    # --- reading -------------------------------------------------------------------------

    def skipped(self, sweep: str | None = None) -> list[dict[str, Any]]:
        """Grid cells recorded as impossible, of one sweep or of all: {sweep, params, reason}."""
        rows = self._conn.execute("SELECT key, value FROM meta WHERE key LIKE 'skipped:%'")
        cells = []
        for row in rows:
            name = row["key"].partition(":")[2]
            if sweep is None or name == sweep:
                cells += [{"sweep": name, **cell} for cell in json.loads(row["value"])]
        return cells

    def runs(self, sweep: str | None = None, status: str | None = None) -> list[RunRecord]:
        """All runs (of one sweep, with one status, when given), in id order."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown run status {status!r}; expected one of {STATUSES}")
        where, args = [], []
        if sweep is not None:
            where.append("id IN (SELECT run_id FROM sweep_runs WHERE sweep = ?)")
            args.append(sweep)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._conn.execute(f"SELECT * FROM runs {clause} ORDER BY id", args).fetchall()
        return [RunRecord.from_row(row) for row in rows]

    def counts(
        self, sweep: str | None = None, only: Collection[str] | None = None
    ) -> dict[str, int]:
        """Number of runs per status (with `only`, of the runs with those config hashes)."""
        counts = dict.fromkeys(STATUSES, 0)
        for run in self.runs(sweep):
            if only is None or run.config_hash in only:
                counts[run.status] += 1
        return counts

    def sweeps(self) -> list[str]:
        rows = self._conn.execute("SELECT DISTINCT sweep FROM sweep_runs ORDER BY sweep")
        return [row["sweep"] for row in rows]

    def metric_table(self, sweep: str | None = None) -> list[dict[str, Any]]:
        """Done runs as flat dicts: axes, params and every scalar metric (for the report)."""
        table = []
        for run in self.runs(sweep, status="done"):
            rows = self._conn.execute(
                "SELECT name, value FROM metrics WHERE run_id = ?", (run.id,)
            ).fetchall()
            entry: dict[str, Any] = {"id": run.id, "config_hash": run.config_hash}
            entry.update(run.params)
            entry.update({row["name"]: row["value"] for row in rows})
            table.append(entry)
        return table
