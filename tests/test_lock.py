"""One process at a time on a SQLite database: the lock file beside it."""

from __future__ import annotations

import os
import time

import pytest

from feedwatch.errors import StoreError
from feedwatch.store import lock


def test_a_second_holder_is_refused_with_the_first_ones_command_and_pid(tmp_path):
    url = f"sqlite:///{tmp_path}/state/feedwatch.db"
    with lock.hold(url, "run"), pytest.raises(StoreError) as refused, lock.hold(url, "once"):
        pass
    assert str(refused.value) == (
        f"database {tmp_path}/state/feedwatch.db is in use by feedwatch run, pid {os.getpid()}"
    )


def test_a_waiting_holder_gives_up_after_its_wait_and_gets_in_once_released(tmp_path):
    url = f"sqlite:///{tmp_path}/feedwatch.db"
    with lock.hold(url, "run"):
        started = time.monotonic()
        refused = pytest.raises(StoreError, match="in use by feedwatch run")
        with refused, lock.hold(url, "once", 0.3):
            pass
        assert 0.3 <= time.monotonic() - started < 2
    with lock.hold(url, "once"):
        assert (tmp_path / "feedwatch.db.lock").read_text() == f"{os.getpid()}\nonce\n"
    assert (tmp_path / "feedwatch.db.lock").read_text() == ""


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///:memory:", "postgresql://feedwatch@db.example/feedwatch"]
)
def test_databases_other_than_a_sqlite_file_are_not_locked(url):
    assert lock.lock_path(url) is None
    with lock.hold(url, "run"), lock.hold(url, "run"):
        pass
