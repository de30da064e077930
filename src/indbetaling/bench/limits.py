"""The limit of a payment: the minimal SQL one must do, run by PostgreSQL's own pgbench (and,
for the embedded default, by sqlite3 in threads) at the same concurrency, in the same run.

What a payment must do at least: write the gateway's audit record of the call (its own
transaction, as the gateway's audit log is its own database), then in one transaction claim
the TransactionUUID with the answer, take the amount off the claim's Restance if it is enough
(which locks the claim), insert the coverage and the claim's message for the outbox. Nothing
of the system's own code runs: this is what the database can do for the same work.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import sqlite3
import subprocess
import threading
import time
import uuid
from glob import glob
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

MESSAGE = "x" * 1500
"""About the size of a claim's message in the outbox."""

TABLES = """
CREATE TABLE bench_audit (id BIGSERIAL PRIMARY KEY, at TIMESTAMPTZ NOT NULL,
    caller TEXT NOT NULL, operation TEXT NOT NULL, cvr TEXT NOT NULL);
CREATE TABLE bench_claims (id INTEGER PRIMARY KEY, restance BIGINT NOT NULL);
CREATE TABLE bench_idempotency (key UUID PRIMARY KEY, answer TEXT NOT NULL);
CREATE TABLE bench_coverages (id UUID PRIMARY KEY, claim_id INTEGER NOT NULL,
    amount BIGINT NOT NULL, restance_after BIGINT NOT NULL, created_at TIMESTAMPTZ NOT NULL);
CREATE INDEX bench_coverages_claim ON bench_coverages (claim_id);
CREATE TABLE bench_outbox (seq BIGSERIAL PRIMARY KEY, claim_id INTEGER NOT NULL,
    payload TEXT NOT NULL);
"""

PGBENCH_SCRIPT = f"""\\set claim random(1, :claims)
INSERT INTO bench_audit (at, caller, operation, cvr)
    VALUES (now(), 'fagsystem', 'ForetagIndbetaling', '12345678');
BEGIN;
INSERT INTO bench_idempotency (key, answer) VALUES (gen_random_uuid(), 'ACCEPTERET');
UPDATE bench_claims SET restance = restance - 1 WHERE id = :claim AND restance >= 1
    RETURNING restance;
INSERT INTO bench_coverages (id, claim_id, amount, restance_after, created_at)
    VALUES (gen_random_uuid(), :claim, 1, 0, now());
INSERT INTO bench_outbox (claim_id, payload) VALUES (:claim, '{MESSAGE}');
END;
"""


def find_pgbench() -> Path | None:
    for found in sorted(glob("/usr/lib/postgresql/*/bin/pgbench"), reverse=True):
        return Path(found)
    which = shutil.which("pgbench")
    return Path(which) if which else None


class PgbenchLimit:
    """pgbench on a database of its own in the same cluster, with `claims` claim rows; its
    script is written into `folder`."""

    def __init__(self, database_url: str, claims: int, folder: Path) -> None:
        program = find_pgbench()
        if program is None:
            raise RuntimeError("pgbench not found (Debian: apt-get install postgresql)")
        self.program = program
        self.url = make_url(database_url)
        self.claims = claims
        folder.mkdir(parents=True, exist_ok=True)
        self.script = folder / "payment.sql"
        self.script.write_text(PGBENCH_SCRIPT)
        engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(TABLES)
            conn.execute(
                text("INSERT INTO bench_claims SELECT g, 1000000000 FROM generate_series(1, :n) g"),
                {"n": claims},
            )
            conn.exec_driver_sql("ANALYZE")
        engine.dispose()

    def tps(self, clients: int, seconds: float, *, hot: bool) -> float:
        """Payments/s of the minimal SQL with `clients` connections for `seconds`."""
        url = self.url
        command = [
            str(self.program),
            "-n",
            "-M",
            "prepared",
            "-c",
            str(clients),
            "-j",
            str(min(clients, 2)),
            "-T",
            str(max(1, round(seconds))),
            "-D",
            f"claims={1 if hot else self.claims}",
            "-f",
            str(self.script),
            "-h",
            url.host or "127.0.0.1",
            "-p",
            str(url.port or 5432),
            "-U",
            url.username or "postgres",
            url.database or "postgres",
        ]
        env = {"PGPASSWORD": url.password or "", "PATH": "/usr/bin:/bin"}
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        found = re.search(r"tps = ([0-9.]+)", done.stdout)
        if done.returncode != 0 or not found:
            raise RuntimeError(f"pgbench failed: {done.stdout[-500:]} {done.stderr[-1000:]}")
        return float(found.group(1))


SQLITE_TABLES = """
CREATE TABLE claims (id INTEGER PRIMARY KEY, restance INTEGER NOT NULL);
CREATE TABLE idempotency (key TEXT PRIMARY KEY, answer TEXT NOT NULL);
CREATE TABLE coverages (id TEXT PRIMARY KEY, claim_id INTEGER NOT NULL, amount INTEGER NOT NULL,
    restance_after INTEGER NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX coverages_claim ON coverages (claim_id);
CREATE TABLE outbox (seq INTEGER PRIMARY KEY, claim_id INTEGER NOT NULL, payload TEXT NOT NULL);
"""


def _sqlite(path: Path) -> sqlite3.Connection:
    """A connection set up as the embedded default's: WAL, synchronous FULL, busy timeout."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class SqliteLimit:
    """The same minimal SQL on SQLite files of its own (the ledger, and the gateway's audit
    log in another file as on the embedded default), from `clients` threads of this process."""

    def __init__(self, folder: Path, claims: int) -> None:
        self.folder = folder
        self.claims = claims
        folder.mkdir(parents=True, exist_ok=True)
        self.ledger, self.audit = folder / "limit-ledger.sqlite", folder / "limit-audit.sqlite"
        with contextlib.closing(_sqlite(self.ledger)) as conn:
            conn.executescript(SQLITE_TABLES)
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO claims VALUES (?, 1000000000)", ((i,) for i in range(1, claims + 1))
            )
            conn.execute("COMMIT")
        with contextlib.closing(_sqlite(self.audit)) as conn:
            conn.execute(
                "CREATE TABLE audit (id INTEGER PRIMARY KEY, at TEXT NOT NULL,"
                " caller TEXT NOT NULL, operation TEXT NOT NULL, cvr TEXT NOT NULL)"
            )

    def tps(self, clients: int, seconds: float, *, hot: bool) -> float:
        stop = threading.Event()
        counts = [0] * clients

        def payer(i: int) -> None:
            ledger, audit = _sqlite(self.ledger), _sqlite(self.audit)
            n = 0
            try:
                while not stop.is_set():
                    claim = 1 if hot else (i + n * clients) % self.claims + 1
                    now = time.strftime("%Y-%m-%dT%H:%M:%S")
                    audit.execute(
                        "INSERT INTO audit (at, caller, operation, cvr) VALUES (?, ?, ?, ?)",
                        (now, "fagsystem", "ForetagIndbetaling", "12345678"),
                    )
                    ledger.execute("BEGIN IMMEDIATE")
                    ledger.execute(
                        "INSERT INTO idempotency VALUES (?, 'ACCEPTERET')", (str(uuid.uuid4()),)
                    )
                    ledger.execute(
                        "UPDATE claims SET restance = restance - 1 WHERE id = ? AND restance >= 1"
                        " RETURNING restance",
                        (claim,),
                    ).fetchall()
                    ledger.execute(
                        "INSERT INTO coverages VALUES (?, ?, 1, 0, ?)",
                        (str(uuid.uuid4()), claim, now),
                    )
                    ledger.execute(
                        "INSERT INTO outbox (claim_id, payload) VALUES (?, ?)", (claim, MESSAGE)
                    )
                    ledger.execute("COMMIT")
                    n += 1
                    counts[i] = n
            finally:
                ledger.close()
                audit.close()

        threads = [threading.Thread(target=payer, args=(i,)) for i in range(clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        time.sleep(seconds)
        stop.set()
        for t in threads:
            t.join()
        return sum(counts) / (time.perf_counter() - started)
