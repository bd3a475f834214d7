"""The SQLite store: schema, idempotent updates, requests, feedback, /forget, models, runs."""

from __future__ import annotations

import itertools
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest
from bot_helpers import make_recognition

from bot.store import (
    MIGRATIONS,
    RUN_LOST,
    RUN_RUNNING,
    STATUS_NO_DIGITS,
    STATUS_OK,
    Store,
)


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock):
    s = Store(tmp_path / "db.sqlite3", clock=clock)
    yield s
    s.close()


_message_ids = itertools.count(1000)


def record_ok(store: Store, user_id: int = 5, labels=(1, 2, 3), **kwargs) -> int:
    """A request with digits; each call is a new photo message unless message_id is given."""
    return store.record_request(
        user_id=user_id,
        chat_id=kwargs.pop("chat_id", user_id),
        message_id=kwargs.pop("message_id", next(_message_ids)),
        status=STATUS_OK,
        recognition=make_recognition(labels, kwargs.pop("confidences", None)),
        model_version="v1",
        **kwargs,
    )


def test_schema_is_migrated_and_in_wal_mode(store: Store, tmp_path: Path) -> None:
    assert store.schema_version == len(MIGRATIONS)
    assert store.integrity_ok()
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_keeps_the_data(tmp_path: Path) -> None:
    first = Store(tmp_path / "db.sqlite3")
    request_id = record_ok(first)
    first.close()
    second = Store(tmp_path / "db.sqlite3")
    assert second.count_requests() == 1
    assert second.pending(request_id) is not None
    assert second.schema_version == len(MIGRATIONS)
    second.close()


def test_a_database_from_a_newer_digitbot_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(RuntimeError, match="newer"):
        Store(path)


def test_a_version_1_database_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(MIGRATIONS[0])
        db.execute(
            "INSERT INTO processed_updates (update_id, boot_id, state, created)"
            " VALUES (5, 'old', 'done', 1.0)"
        )
        db.execute("PRAGMA user_version = 1")
    store = Store(path)
    assert store.schema_version == len(MIGRATIONS) >= 2
    assert not store.claim_update(5, "new")  # the old rows survived the upgrade
    assert store.claim_update(6, "new", '{"update_id": 6}')
    store.close()


def test_update_claims(store: Store) -> None:
    assert store.claim_update(100, "boot-a")
    # A redelivery while the first copy is still in flight in the same process.
    assert not store.claim_update(100, "boot-a")
    # The process died before finishing it: the next one handles it again, once.
    assert store.claim_update(100, "boot-b")
    assert not store.claim_update(100, "boot-b")
    store.finish_update(100)
    # Done: never again, whichever process asks.
    assert not store.claim_update(100, "boot-b")
    assert not store.claim_update(100, "boot-c")


def test_updates_cut_off_by_a_crash_are_handed_back(store: Store, clock: Clock) -> None:
    assert store.claim_update(1, "dead", '{"update_id": 1}')
    store.finish_update(1)
    assert store.claim_update(2, "dead", '{"update_id": 2}')  # the crash came here
    assert store.claim_update(3, "alive", '{"update_id": 3}')  # in flight in this process
    assert store.unfinished_updates("alive", newer_than=3600) == [(2, '{"update_id": 2}')]
    # Handed back, the update is claimed and finished by the new process like any other.
    assert store.claim_update(2, "alive")
    store.finish_update(2)
    assert store.unfinished_updates("alive", newer_than=3600) == []


def test_very_old_unfinished_updates_are_given_up(store: Store, clock: Clock) -> None:
    assert store.claim_update(1, "dead", '{"update_id": 1}')
    clock.now += 2 * 86400
    assert store.unfinished_updates("alive", newer_than=86400) == []
    assert not store.claim_update(1, "alive")  # abandoned, never handled again
    assert store.unfinished_updates("later", newer_than=10 * 86400) == []


def test_request_with_digits_keeps_crops_for_feedback(store: Store) -> None:
    recognition = make_recognition([4, 0, 7])
    request_id = store.record_request(
        user_id=5, chat_id=50, message_id=9, status=STATUS_OK, recognition=recognition
    )
    pending = store.pending(request_id)
    assert pending is not None
    assert pending.labels == (4, 0, 7)
    assert pending.text == "407"
    assert pending.user_id == 5 and pending.chat_id == 50 and pending.message_id == 9
    assert pending.state == "open"
    np.testing.assert_array_equal(pending.crops, np.stack([d.crop for d in recognition.digits]))


def test_a_photo_handled_again_after_a_crash_is_counted_once(store: Store) -> None:
    first = record_ok(store, user_id=5, message_id=30, labels=(1, 2))
    again = record_ok(store, user_id=5, message_id=30, labels=(1, 7, 2))
    other = record_ok(store, user_id=5, message_id=31, labels=(4,))
    assert again == first and other != first
    assert store.count_requests() == 2
    assert sum(store.digit_counts()) == 4
    pending = store.pending(first)
    assert pending is not None and pending.labels == (1, 7, 2)


def test_request_without_digits_has_nothing_pending(store: Store) -> None:
    request_id = store.record_request(
        user_id=5, chat_id=5, message_id=1, status=STATUS_NO_DIGITS, latency=0.2
    )
    assert store.pending(request_id) is None
    assert store.count_requests() == 1
    assert store.latencies() == [0.2]


def test_feedback_is_saved_once_even_on_a_double_tap(store: Store, tmp_path: Path) -> None:
    request_id = record_ok(store)
    first = store.claim_feedback(request_id)
    second = store.claim_feedback(request_id)
    assert first is not None and second is None
    store.complete_feedback(
        request_id,
        user_id=5,
        kind="confirmed",
        labels=first.labels,
        sample_paths=[(d, tmp_path / f"{d}.png") for d in first.labels],
    )
    pending = store.pending(request_id)
    assert pending is not None and pending.state == "confirmed"
    assert pending.crops.shape == (0, 28, 28)  # crops are dropped once saved as samples
    assert store.claim_feedback(request_id) is None
    assert store.feedback_counts() == {"confirmed": 1, "corrected": 0}
    assert store.sample_count() == 3 and store.sample_count(5) == 3 and store.sample_count(6) == 0


def test_a_failed_save_can_be_retried(store: Store) -> None:
    request_id = record_ok(store)
    assert store.claim_feedback(request_id) is not None
    store.release_feedback(request_id)
    assert store.claim_feedback(request_id) is not None


def test_saves_cut_by_a_crash_are_reopened(store: Store) -> None:
    request_id = record_ok(store)
    assert store.claim_feedback(request_id) is not None
    assert store.release_interrupted_feedback() == 1
    pending = store.pending(request_id)
    assert pending is not None and pending.state == "open"


def test_fix_requests(store: Store) -> None:
    first = record_ok(store, labels=(1, 2))
    second = record_ok(store, labels=(3, 4, 5))
    other_chat = record_ok(store, labels=(6,), chat_id=99)
    assert store.awaiting_fix(5, 5) is None
    store.ask_fix(first)
    awaiting = store.awaiting_fix(5, 5)
    assert awaiting is not None and awaiting.request_id == first
    store.ask_fix(second)  # the latest "Fix it" in a chat is the one typed digits answer
    awaiting = store.awaiting_fix(5, 5)
    assert awaiting is not None and awaiting.request_id == second
    assert store.awaiting_fix(5, 99) is None
    store.ask_fix(other_chat)
    assert store.awaiting_fix(5, 5) is not None  # other chats are independent
    assert store.cancel_fix(5, 5)
    assert store.awaiting_fix(5, 5) is None
    assert not store.cancel_fix(5, 5)


def test_forget_user_deletes_every_row_of_that_user_only(store: Store, tmp_path: Path) -> None:
    mine = record_ok(store, user_id=5)
    record_ok(store, user_id=5)
    theirs = record_ok(store, user_id=6)
    for request_id, user in ((mine, 5), (theirs, 6)):
        claimed = store.claim_feedback(request_id)
        assert claimed is not None
        store.complete_feedback(
            request_id,
            user_id=user,
            kind="corrected",
            labels=(9, 9, 9),
            sample_paths=[(9, tmp_path / f"{user}-{i}.png") for i in range(3)],
        )
    report = store.forget_user(5)
    assert report.requests == 2
    assert sorted(p.name for p in report.samples) == ["5-0.png", "5-1.png", "5-2.png"]
    assert store.user_row_counts(5) == {
        "users": 0,
        "requests": 0,
        "pending": 0,
        "feedback": 0,
        "samples": 0,
    }
    assert store.user_row_counts(6)["samples"] == 3
    assert store.count_requests() == 1
    # The digits of the forgotten requests are gone from the figures too.
    assert sum(store.digit_counts()) == 3


def test_figures(store: Store, clock: Clock) -> None:
    record_ok(store, user_id=1, labels=(1, 1, 7), confidences=(0.99, 0.5, 0.9))
    clock.now += 2 * 24 * 3600
    record_ok(store, user_id=2, labels=(0,), confidences=(0.7,))
    store.record_request(user_id=2, chat_id=2, message_id=3, status=STATUS_NO_DIGITS)
    assert store.count_requests() == 3
    assert store.count_requests(since=clock.now - 24 * 3600) == 2
    assert store.unique_users() == 2
    assert store.digit_counts() == [1, 2, 0, 0, 0, 0, 0, 1, 0, 0]
    digits, mean, uncertain = store.confidence_summary()
    assert digits == 4
    assert mean == pytest.approx((0.99 + 0.5 + 0.9 + 0.7) / 4)
    assert uncertain == pytest.approx(2 / 4)


def test_latency_is_recorded_after_the_reply(store: Store) -> None:
    request_id = record_ok(store)
    assert store.latencies() == []
    store.set_latency(request_id, 0.42)
    assert store.latencies() == [0.42]


def test_active_model_record(store: Store, tmp_path: Path) -> None:
    assert store.active_model() is None
    first = store.record_model(tmp_path / "a.tflite", "a", 0.99, "2026", active=True)
    second = store.record_model(tmp_path / "b.tflite", "b", 0.995, "2026", active=True)
    active = store.active_model()
    assert active is not None and active.id == second and active.version == "b"
    assert [m.version for m in store.model_history()] == ["b", "a"]
    store.set_active_model(first)
    active = store.active_model()
    assert active is not None and active.version == "a" and active.path == tmp_path / "a.tflite"


def test_training_runs(store: Store, tmp_path: Path) -> None:
    run = store.create_training_run(
        version="v2", admin_id=1, chat_id=10, epochs=3, out_dir=tmp_path / "v2"
    )
    assert run.state == RUN_RUNNING and not run.notified and run.out_dir == tmp_path / "v2"
    run = store.update_training_run(run.id, pid=1234, status_message_id=77)
    assert run.pid == 1234 and run.status_message_id == 77
    assert [r.id for r in store.training_runs(RUN_RUNNING)] == [run.id]
    run = store.update_training_run(run.id, state=RUN_LOST, detail="gone", notified=1)
    assert run.notified and run.detail == "gone"
    assert store.training_runs(RUN_RUNNING) == []
    with pytest.raises(ValueError, match="not a training run field"):
        store.update_training_run(run.id, version="hack")


def test_prune_forgets_old_update_ids_and_expires_old_results(store: Store, clock: Clock) -> None:
    old_request = record_ok(store)
    assert store.claim_update(1, "boot")
    store.finish_update(1)
    clock.now += 10 * 24 * 3600
    assert store.claim_update(2, "boot")
    new_request = record_ok(store)
    updates, pending = store.prune(updates_older_than=7 * 86400, pending_older_than=5 * 86400)
    assert (updates, pending) == (1, 1)
    old = store.pending(old_request)
    assert old is not None and old.state == "expired" and old.crops.size == 0
    new = store.pending(new_request)
    assert new is not None and new.state == "open"
    assert not store.claim_update(2, "boot")  # recent ids are kept


def test_concurrent_writers_lose_nothing(store: Store) -> None:
    errors: list[BaseException] = []

    def work(user: int) -> None:
        try:
            for i in range(40):
                record_ok(store, user_id=user, message_id=i)
                assert store.claim_update(user * 1000 + i, "boot")
                store.finish_update(user * 1000 + i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(u,)) for u in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.count_requests() == 8 * 40
    assert sum(store.digit_counts()) == 8 * 40 * 3
    assert store.integrity_ok()
