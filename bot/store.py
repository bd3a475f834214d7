"""The bot's memory: one SQLite file in DATA_DIR (WAL), so that stats, pending feedback,
the live model choice and training runs survive restarts and crashes.

One connection guarded by a lock serves the whole process: every statement is short, the
bot is one process, and a single writer can never meet "database is locked". The schema
evolves by numbered migrations recorded in ``PRAGMA user_version``.

Nothing here is keyed by a name taken from user input: rows are keyed by Telegram's
numeric ids and our own autoincrement ids, and no user names are stored at all.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recognizer.types import Recognition

CROP_SHAPE = (28, 28)

#: Request outcomes, as stored in ``requests.status``.
STATUS_OK = "ok"
STATUS_NO_DIGITS = "no_digits"
STATUS_BAD_IMAGE = "bad_image"
STATUS_ERROR = "error"

#: Training run states.
RUN_RUNNING = "running"
RUN_PROMOTED = "promoted"
RUN_KEPT_ASIDE = "kept_aside"
RUN_FAILED = "failed"
RUN_CANCELLED = "cancelled"
RUN_LOST = "lost"

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema.
    """
    CREATE TABLE users (
        user_id INTEGER PRIMARY KEY,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL
    );
    CREATE TABLE requests (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL,
        chat_id INTEGER NOT NULL,
        message_id INTEGER,
        created REAL NOT NULL,
        status TEXT NOT NULL,
        text TEXT,
        n_digits INTEGER NOT NULL DEFAULT 0,
        lowest_confidence REAL,
        latency REAL,
        model_version TEXT
    );
    CREATE INDEX requests_user ON requests(user_id);
    CREATE INDEX requests_created ON requests(created);
    CREATE TABLE digits (
        request_id INTEGER NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        label INTEGER NOT NULL,
        confidence REAL NOT NULL,
        runner_up INTEGER NOT NULL,
        uncertain INTEGER NOT NULL,
        PRIMARY KEY (request_id, position)
    );
    CREATE TABLE pending (
        request_id INTEGER PRIMARY KEY REFERENCES requests(id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL,
        chat_id INTEGER NOT NULL,
        labels TEXT NOT NULL,
        crops BLOB NOT NULL,
        created REAL NOT NULL,
        buttons_message_id INTEGER,
        state TEXT NOT NULL DEFAULT 'open',
        fix_asked REAL
    );
    CREATE INDEX pending_user ON pending(user_id, chat_id);
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id INTEGER NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('confirmed', 'corrected')),
        labels TEXT NOT NULL,
        created REAL NOT NULL
    );
    CREATE INDEX feedback_user ON feedback(user_id);
    CREATE TABLE samples (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL,
        request_id INTEGER NOT NULL,
        label INTEGER NOT NULL,
        path TEXT NOT NULL,
        created REAL NOT NULL
    );
    CREATE INDEX samples_user ON samples(user_id);
    CREATE TABLE processed_updates (
        update_id INTEGER PRIMARY KEY,
        boot_id TEXT NOT NULL,
        state TEXT NOT NULL,
        created REAL NOT NULL
    );
    CREATE TABLE models (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        path TEXT NOT NULL,
        version TEXT NOT NULL,
        test_accuracy REAL,
        created TEXT,
        registered REAL NOT NULL,
        active INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE training_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        version TEXT NOT NULL,
        admin_id INTEGER NOT NULL,
        chat_id INTEGER NOT NULL,
        status_message_id INTEGER,
        pid INTEGER,
        epochs INTEGER NOT NULL,
        out_dir TEXT NOT NULL,
        started REAL NOT NULL,
        finished REAL,
        state TEXT NOT NULL,
        detail TEXT,
        test_accuracy REAL,
        notified INTEGER NOT NULL DEFAULT 0
    );
    """,
    # 2: keep an update's JSON while it is being handled, so that an update cut off by a
    # crash can be handled by the next process even though Telegram will not send it again.
    # The index finds the request of a photo message handled again after a crash.
    """
    ALTER TABLE processed_updates ADD COLUMN payload TEXT;
    CREATE INDEX requests_message ON requests(chat_id, message_id);
    """,
)


@dataclass(frozen=True, slots=True)
class Pending:
    """A recent result whose crops wait for the user's "Correct" or "Fix it"."""

    request_id: int
    user_id: int
    chat_id: int
    labels: tuple[int, ...]
    crops: np.ndarray
    state: str
    buttons_message_id: int | None
    fix_asked: float | None
    #: The user's photo message the result answered (for replying to it again).
    message_id: int | None

    @property
    def text(self) -> str:
        return "".join(str(label) for label in self.labels)


@dataclass(frozen=True, slots=True)
class ModelRecord:
    id: int
    path: Path
    version: str
    test_accuracy: float | None
    created: str | None
    registered: float
    active: bool


@dataclass(frozen=True, slots=True)
class TrainingRun:
    id: int
    version: str
    admin_id: int
    chat_id: int
    status_message_id: int | None
    pid: int | None
    epochs: int
    out_dir: Path
    started: float
    finished: float | None
    state: str
    detail: str | None
    test_accuracy: float | None
    notified: bool


@dataclass(frozen=True, slots=True)
class ForgetReport:
    requests: int
    samples: list[Path]


_PENDING_SELECT = (
    "SELECT pending.*, requests.message_id AS message_id FROM pending"
    " JOIN requests ON requests.id = pending.request_id"
)

_RUN_FIELDS = frozenset(
    {"status_message_id", "pid", "finished", "state", "detail", "test_accuracy", "notified"}
)


class Store:
    """Thread-safe access to the bot's SQLite database."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=30
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._migrate()

    # -- plumbing ---------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        with self._lock:
            current = int(self._db.execute("PRAGMA user_version").fetchone()[0])
            if current > len(MIGRATIONS):
                raise RuntimeError(
                    f"{self.path} has schema version {current}, newer than this digitbot "
                    f"({len(MIGRATIONS)}): upgrade digitbot or use another DATA_DIR"
                )
            for version in range(current + 1, len(MIGRATIONS) + 1):
                # executescript commits first; BEGIN/COMMIT inside keeps one migration atomic.
                self._db.executescript(
                    f"BEGIN IMMEDIATE;\n{MIGRATIONS[version - 1]}\n"
                    f"PRAGMA user_version = {version};\nCOMMIT;"
                )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._db.execute(sql, params).fetchone()

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def integrity_ok(self) -> bool:
        row = self._one("PRAGMA integrity_check")
        return row is not None and row[0] == "ok"

    # -- idempotent updates -----------------------------------------------------------

    def claim_update(self, update_id: int, boot_id: str, payload: str | None = None) -> bool:
        """True if this process should handle the update now.

        False when it was handled to the end before, or when this very process is
        handling it (a redelivery while in flight). An update claimed by a process that
        died before finishing it is handed out again, so a crash loses no photo.
        ``payload`` (the update's JSON) is kept until the update is finished, for
        ``unfinished_updates``.
        """
        with self._transaction() as db:
            row = db.execute(
                "SELECT state, boot_id FROM processed_updates WHERE update_id = ?", (update_id,)
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO processed_updates (update_id, boot_id, state, created, payload)"
                    " VALUES (?, ?, 'started', ?, ?)",
                    (update_id, boot_id, self._clock(), payload),
                )
                return True
            if row["state"] in ("done", "abandoned") or row["boot_id"] == boot_id:
                return False
            db.execute(
                "UPDATE processed_updates SET boot_id = ?, created = ? WHERE update_id = ?",
                (boot_id, self._clock(), update_id),
            )
            return True

    def finish_update(self, update_id: int) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE processed_updates SET state = 'done', payload = NULL WHERE update_id = ?",
                (update_id,),
            )

    def unfinished_updates(self, boot_id: str, *, newer_than: float) -> list[tuple[int, str]]:
        """Updates that a process which died had started and not finished, oldest first.

        Telegram does not send them again: the dead process had already fetched past them.
        Ones older than ``newer_than`` seconds are given up (marked 'abandoned').
        """
        cutoff = self._clock() - newer_than
        with self._transaction() as db:
            db.execute(
                "UPDATE processed_updates SET state = 'abandoned', payload = NULL"
                " WHERE state = 'started' AND boot_id != ? AND created < ?",
                (boot_id, cutoff),
            )
            rows = db.execute(
                "SELECT update_id, payload FROM processed_updates WHERE state = 'started'"
                " AND boot_id != ? AND payload IS NOT NULL ORDER BY update_id",
                (boot_id,),
            ).fetchall()
        return [(int(r["update_id"]), str(r["payload"])) for r in rows]

    # -- requests ---------------------------------------------------------------------

    def record_request(
        self,
        *,
        user_id: int,
        chat_id: int,
        message_id: int | None,
        status: str,
        recognition: Recognition | None = None,
        model_version: str | None = None,
        latency: float | None = None,
    ) -> int:
        """Store one photo request (and its digits and crops for feedback); returns its id.

        A photo message handled again (a crash cut off the first try) replaces its earlier
        row under the same id, so it is counted once.
        """
        now = self._clock()
        digits = recognition.digits if recognition is not None else ()
        values = (
            status,
            recognition.text if recognition is not None else None,
            len(digits),
            recognition.lowest_confidence if recognition is not None else None,
            latency,
            model_version,
        )
        with self._transaction() as db:
            db.execute(
                "INSERT INTO users (user_id, first_seen, last_seen) VALUES (?, ?, ?)"
                " ON CONFLICT(user_id) DO UPDATE SET last_seen = excluded.last_seen",
                (user_id, now, now),
            )
            earlier = None
            if message_id is not None:
                earlier = db.execute(
                    "SELECT id FROM requests WHERE chat_id = ? AND message_id = ? AND user_id = ?",
                    (chat_id, message_id, user_id),
                ).fetchone()
            if earlier is not None:
                request_id = int(earlier["id"])
                db.execute(
                    "UPDATE requests SET status = ?, text = ?, n_digits = ?,"
                    " lowest_confidence = ?, latency = ?, model_version = ? WHERE id = ?",
                    (*values, request_id),
                )
                db.execute("DELETE FROM digits WHERE request_id = ?", (request_id,))
                db.execute("DELETE FROM pending WHERE request_id = ?", (request_id,))
            else:
                cursor = db.execute(
                    "INSERT INTO requests (user_id, chat_id, message_id, created, status, text,"
                    " n_digits, lowest_confidence, latency, model_version)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (user_id, chat_id, message_id, now, *values),
                )
                request_id = int(cursor.lastrowid or 0)
            db.executemany(
                "INSERT INTO digits (request_id, position, label, confidence, runner_up,"
                " uncertain) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (request_id, i, d.label, d.confidence, d.runner_up, int(d.uncertain))
                    for i, d in enumerate(digits)
                ],
            )
            if digits:
                crops = np.stack([np.asarray(d.crop, dtype=np.uint8) for d in digits])
                if crops.shape[1:] != CROP_SHAPE:
                    raise ValueError(f"crops must be 28x28, got {crops.shape}")
                db.execute(
                    "INSERT INTO pending (request_id, user_id, chat_id, labels, crops, created)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        request_id,
                        user_id,
                        chat_id,
                        "".join(str(d.label) for d in digits),
                        crops.tobytes(),
                        now,
                    ),
                )
        return request_id

    def set_latency(self, request_id: int, latency: float) -> None:
        with self._transaction() as db:
            db.execute("UPDATE requests SET latency = ? WHERE id = ?", (latency, request_id))

    # -- feedback ---------------------------------------------------------------------

    def _pending_from_row(self, row: sqlite3.Row) -> Pending:
        labels = tuple(int(c) for c in row["labels"])
        crops = np.frombuffer(row["crops"], dtype=np.uint8)
        crops = crops.reshape(-1, *CROP_SHAPE).copy() if crops.size else crops.reshape(0, 28, 28)
        return Pending(
            request_id=row["request_id"],
            user_id=row["user_id"],
            chat_id=row["chat_id"],
            labels=labels,
            crops=crops,
            state=row["state"],
            buttons_message_id=row["buttons_message_id"],
            fix_asked=row["fix_asked"],
            message_id=row["message_id"],
        )

    def pending(self, request_id: int) -> Pending | None:
        row = self._one(f"{_PENDING_SELECT} WHERE request_id = ?", (request_id,))
        return None if row is None else self._pending_from_row(row)

    def set_buttons_message(self, request_id: int, message_id: int) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE pending SET buttons_message_id = ? WHERE request_id = ?",
                (message_id, request_id),
            )

    def ask_fix(self, request_id: int) -> None:
        """Mark this result as the one the user's next typed digits correct (one per chat)."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT user_id, chat_id FROM pending WHERE request_id = ?", (request_id,)
            ).fetchone()
            if row is None:
                return
            db.execute(
                "UPDATE pending SET fix_asked = NULL WHERE user_id = ? AND chat_id = ?",
                (row["user_id"], row["chat_id"]),
            )
            db.execute(
                "UPDATE pending SET fix_asked = ? WHERE request_id = ? AND state = 'open'",
                (self._clock(), request_id),
            )

    def cancel_fix(self, user_id: int, chat_id: int) -> bool:
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE pending SET fix_asked = NULL"
                " WHERE user_id = ? AND chat_id = ? AND fix_asked IS NOT NULL",
                (user_id, chat_id),
            )
            return cursor.rowcount > 0

    def awaiting_fix(self, user_id: int, chat_id: int) -> Pending | None:
        row = self._one(
            f"{_PENDING_SELECT} WHERE pending.user_id = ? AND pending.chat_id = ?"
            " AND state = 'open' AND fix_asked IS NOT NULL ORDER BY fix_asked DESC LIMIT 1",
            (user_id, chat_id),
        )
        return None if row is None else self._pending_from_row(row)

    def claim_feedback(self, request_id: int) -> Pending | None:
        """Take an open result for saving (so a double tap saves once); None if not open."""
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE pending SET state = 'saving' WHERE request_id = ? AND state = 'open'",
                (request_id,),
            )
            if cursor.rowcount != 1:
                return None
            row = db.execute(f"{_PENDING_SELECT} WHERE request_id = ?", (request_id,)).fetchone()
        return self._pending_from_row(row)

    def release_feedback(self, request_id: int) -> None:
        """Give a claimed result back (saving its samples failed); the user can try again."""
        with self._transaction() as db:
            db.execute(
                "UPDATE pending SET state = 'open' WHERE request_id = ? AND state = 'saving'",
                (request_id,),
            )

    def complete_feedback(
        self,
        request_id: int,
        *,
        user_id: int,
        kind: str,
        labels: Sequence[int],
        sample_paths: Sequence[tuple[int, Path]],
    ) -> None:
        """Record confirmed/corrected labels and their sample files; the crops are dropped."""
        now = self._clock()
        with self._transaction() as db:
            db.execute(
                "INSERT INTO feedback (request_id, user_id, kind, labels, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (request_id, user_id, kind, "".join(str(x) for x in labels), now),
            )
            db.executemany(
                "INSERT INTO samples (user_id, request_id, label, path, created)"
                " VALUES (?, ?, ?, ?, ?)",
                [(user_id, request_id, label, str(path), now) for label, path in sample_paths],
            )
            db.execute(
                "UPDATE pending SET state = ?, crops = x'', fix_asked = NULL WHERE request_id = ?",
                (kind, request_id),
            )

    def sample_count(self, user_id: int | None = None) -> int:
        if user_id is None:
            row = self._one("SELECT COUNT(*) FROM samples")
        else:
            row = self._one("SELECT COUNT(*) FROM samples WHERE user_id = ?", (user_id,))
        return int(row[0]) if row else 0

    def forget_user(self, user_id: int) -> ForgetReport:
        """Delete every row about one user; returns the sample files the caller must delete."""
        with self._transaction() as db:
            paths = [
                Path(r["path"])
                for r in db.execute("SELECT path FROM samples WHERE user_id = ?", (user_id,))
            ]
            requests = db.execute("DELETE FROM requests WHERE user_id = ?", (user_id,)).rowcount
            # Rows that point at the user but not through one of their requests.
            db.execute("DELETE FROM pending WHERE user_id = ?", (user_id,))
            db.execute("DELETE FROM feedback WHERE user_id = ?", (user_id,))
            db.execute("DELETE FROM samples WHERE user_id = ?", (user_id,))
            db.execute("DELETE FROM users WHERE user_id = ?", (user_id,))
        return ForgetReport(requests=requests, samples=paths)

    def user_row_counts(self, user_id: int) -> dict[str, int]:
        """How many rows of each table hold this user (to prove /forget works)."""
        counts = {}
        for table in ("users", "requests", "pending", "feedback", "samples"):
            row = self._one(f"SELECT COUNT(*) FROM {table} WHERE user_id = ?", (user_id,))
            counts[table] = int(row[0]) if row else 0
        return counts

    # -- figures for /stats -----------------------------------------------------------

    def count_requests(self, since: float | None = None) -> int:
        row = self._one(
            "SELECT COUNT(*) FROM requests WHERE created >= ?",
            (since if since is not None else float("-inf"),),
        )
        return int(row[0]) if row else 0

    def unique_users(self) -> int:
        row = self._one("SELECT COUNT(DISTINCT user_id) FROM requests")
        return int(row[0]) if row else 0

    def digit_counts(self) -> list[int]:
        counts = [0] * 10
        for row in self._all("SELECT label, COUNT(*) AS n FROM digits GROUP BY label"):
            if 0 <= row["label"] <= 9:
                counts[row["label"]] = int(row["n"])
        return counts

    def confidence_summary(self) -> tuple[int, float | None, float | None]:
        """(digits, mean confidence, share of uncertain digits)."""
        row = self._one("SELECT COUNT(*), AVG(confidence), AVG(uncertain) FROM digits")
        if row is None or not row[0]:
            return 0, None, None
        return int(row[0]), float(row[1]), float(row[2])

    def latencies(self, limit: int = 10_000) -> list[float]:
        rows = self._all(
            "SELECT latency FROM requests WHERE latency IS NOT NULL ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [float(r[0]) for r in rows]

    def feedback_counts(self) -> dict[str, int]:
        counts = {"confirmed": 0, "corrected": 0}
        for row in self._all("SELECT kind, COUNT(*) AS n FROM feedback GROUP BY kind"):
            counts[row["kind"]] = int(row["n"])
        return counts

    # -- models -----------------------------------------------------------------------

    def _model_from_row(self, row: sqlite3.Row) -> ModelRecord:
        return ModelRecord(
            id=row["id"],
            path=Path(row["path"]),
            version=row["version"],
            test_accuracy=row["test_accuracy"],
            created=row["created"],
            registered=row["registered"],
            active=bool(row["active"]),
        )

    def record_model(
        self,
        path: Path,
        version: str,
        test_accuracy: float | None,
        created: str | None,
        *,
        active: bool,
    ) -> int:
        with self._transaction() as db:
            if active:
                db.execute("UPDATE models SET active = 0")
            cursor = db.execute(
                "INSERT INTO models (path, version, test_accuracy, created, registered, active)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (str(path), version, test_accuracy, created, self._clock(), int(active)),
            )
            return int(cursor.lastrowid or 0)

    def set_active_model(self, model_id: int) -> None:
        with self._transaction() as db:
            db.execute("UPDATE models SET active = 0")
            db.execute("UPDATE models SET active = 1 WHERE id = ?", (model_id,))

    def active_model(self) -> ModelRecord | None:
        row = self._one("SELECT * FROM models WHERE active = 1 ORDER BY id DESC LIMIT 1")
        return None if row is None else self._model_from_row(row)

    def model_history(self) -> list[ModelRecord]:
        """Every model ever made live or kept aside, newest first."""
        return [self._model_from_row(r) for r in self._all("SELECT * FROM models ORDER BY id DESC")]

    # -- training runs ----------------------------------------------------------------

    def _run_from_row(self, row: sqlite3.Row) -> TrainingRun:
        return TrainingRun(
            id=row["id"],
            version=row["version"],
            admin_id=row["admin_id"],
            chat_id=row["chat_id"],
            status_message_id=row["status_message_id"],
            pid=row["pid"],
            epochs=row["epochs"],
            out_dir=Path(row["out_dir"]),
            started=row["started"],
            finished=row["finished"],
            state=row["state"],
            detail=row["detail"],
            test_accuracy=row["test_accuracy"],
            notified=bool(row["notified"]),
        )

    def create_training_run(
        self, *, version: str, admin_id: int, chat_id: int, epochs: int, out_dir: Path
    ) -> TrainingRun:
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO training_runs (version, admin_id, chat_id, epochs, out_dir,"
                " started, state) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (version, admin_id, chat_id, epochs, str(out_dir), self._clock(), RUN_RUNNING),
            )
            run_id = int(cursor.lastrowid or 0)
        run = self.training_run(run_id)
        assert run is not None
        return run

    def update_training_run(self, run_id: int, **fields: Any) -> TrainingRun:
        unknown = set(fields) - _RUN_FIELDS
        if unknown:
            raise ValueError(f"not a training run field: {sorted(unknown)}")
        if fields:
            assignments = ", ".join(f"{name} = ?" for name in fields)
            with self._transaction() as db:
                db.execute(
                    f"UPDATE training_runs SET {assignments} WHERE id = ?",
                    (*fields.values(), run_id),
                )
        run = self.training_run(run_id)
        if run is None:
            raise KeyError(f"no training run {run_id}")
        return run

    def training_run(self, run_id: int) -> TrainingRun | None:
        row = self._one("SELECT * FROM training_runs WHERE id = ?", (run_id,))
        return None if row is None else self._run_from_row(row)

    def training_runs(self, state: str | None = None) -> list[TrainingRun]:
        if state is None:
            rows = self._all("SELECT * FROM training_runs ORDER BY id")
        else:
            rows = self._all("SELECT * FROM training_runs WHERE state = ? ORDER BY id", (state,))
        return [self._run_from_row(r) for r in rows]

    # -- housekeeping -----------------------------------------------------------------

    def release_interrupted_feedback(self) -> int:
        """After a crash, results caught mid-save are open again (their crops are intact)."""
        with self._transaction() as db:
            return db.execute("UPDATE pending SET state = 'open' WHERE state = 'saving'").rowcount

    def prune(self, *, updates_older_than: float, pending_older_than: float) -> tuple[int, int]:
        """Forget old update ids and expire old unanswered results (dropping their crops)."""
        now = self._clock()
        with self._transaction() as db:
            updates = db.execute(
                "DELETE FROM processed_updates WHERE created < ?", (now - updates_older_than,)
            ).rowcount
            pending = db.execute(
                "UPDATE pending SET state = 'expired', crops = x'', fix_asked = NULL"
                " WHERE state = 'open' AND created < ?",
                (now - pending_older_than,),
            ).rowcount
        return updates, pending
