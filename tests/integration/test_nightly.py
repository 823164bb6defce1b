"""The nightly run: exactly once per night, killed or triggered twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import stamina
from sqlalchemy import select
from typer.testing import CliRunner

from arrears.cli import app
from arrears.wiring import App
from cases.models import EscalationRun, Notice
from tests.factories import CODES, ledger_row, tamper_log, write_ledger
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, running_fake_twilio

NIGHT = "2026-09-16"  # day 1 of arrears due 2026-09-15
N = 12
ARREARS = Path(sys.executable).parent / "arrears"


@pytest.fixture(autouse=True)
def no_backoff() -> Iterator[None]:
    with stamina.set_testing(True, attempts=1000, cap=True):
        yield


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with running_fake_twilio() as server:
        yield server


@pytest.fixture
def due_cases(db_env: dict[str, str], tmp_path: Path) -> None:
    import random

    from arrears.sample import make_uscc

    rng = random.Random(5)
    codes = CODES[:] + [make_uscc(rng, "120103") for _ in range(N - len(CODES))]
    rows = [
        ledger_row(code, employer_name=f"天津第{i}贸易有限公司", mobile=f"138000001{i:02d}")
        for i, code in enumerate(codes[:N])
    ]
    ledger = write_ledger(tmp_path / "l.csv", rows)
    result = CliRunner().invoke(app, ["import-ledger", str(ledger), "--as-of", NIGHT], env=db_env)
    assert result.exit_code == 0, result.output


def twilio_env(fake: FakeTwilio, **extra: str) -> dict[str, str]:
    return {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": "+15005550006",
        "ARREARS_TWILIO_BASE_URL": fake.url,
        **extra,
    }


def sms_sent(store: App) -> list[Notice]:
    with store.session() as session:
        return list(session.execute(select(Notice).where(Notice.channel == "sms")).scalars())


@pytest.mark.slow
def test_a_night_killed_with_sigkill_is_finished_by_the_next_run(
    db_env: dict[str, str], fake: FakeTwilio, due_cases: None, store: App, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        **db_env,
        **twilio_env(fake, ARREARS_SMS_RATE_LIMIT="4"),  # 12 messages take ~3 s: time to kill
        "PREFECT_HOME": str(tmp_path / "prefect"),
    }
    env.pop("PREFECT_API_URL", None)  # the child runs Prefect's ephemeral server of its own
    first = subprocess.Popen(
        [str(ARREARS), "escalate", "--as-of", NIGHT],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while len(fake.seen("POST", "Messages")) < 4:
        assert first.poll() is None, first.stdout.read().decode() if first.stdout else ""
        assert time.monotonic() < deadline, "the first run never started sending"
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    k = len(fake.seen("POST", "Messages"))
    assert 4 <= k < N
    with store.session() as session:
        assert session.get(EscalationRun, date(2026, 9, 16)).status == "running"  # type: ignore[union-attr]

    second = subprocess.run(
        [str(ARREARS), "escalate", "--as-of", NIGHT],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert len(fake.seen("POST", "Messages")) == N  # exactly one SMS per due case, in all
    assert sorted({r.form["To"] for r in fake.seen("POST", "Messages")}) == sorted(
        n.recipient for n in sms_sent(store)
    )
    assert all(n.provider_id for n in sms_sent(store))
    with store.session() as session:
        run = session.get(EscalationRun, date(2026, 9, 16))
        assert run is not None and run.status == "completed" and run.attempts == 2


def test_two_triggers_at_once_send_each_sms_once(
    db_env: dict[str, str],
    fake: FakeTwilio,
    due_cases: None,
    store: App,
    prefect: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {**db_env, **twilio_env(fake)}.items():
        monkeypatch.setenv(name, value)
    from flows import nightly

    nightly._APPS.clear()
    results: list[dict[str, object]] = []
    barrier = threading.Barrier(2)

    def trigger() -> None:
        barrier.wait()
        results.append(nightly.nightly_escalation(date(2026, 9, 16)))

    threads = [threading.Thread(target=trigger) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    statuses = sorted(str(r["status"]) for r in results)
    assert statuses in (["completed", "taken"], ["already_done", "completed"])
    assert [r["queue_reordered"] for r in results if r["status"] == "completed"] == [N]
    assert len(fake.seen("POST", "Messages")) == N
    again = nightly.nightly_escalation(date(2026, 9, 16))
    assert again["status"] == "already_done"
    assert len(fake.seen("POST", "Messages")) == N
    nightly._APPS.clear()


def test_each_night_checks_the_log_and_exports_the_days_heads(
    db_env: dict[str, str],
    fake: FakeTwilio,
    due_cases: None,
    store: App,
    prefect: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {**db_env, **twilio_env(fake)}.items():
        monkeypatch.setenv(name, value)
    from flows import nightly

    nightly._APPS.clear()
    first = nightly.nightly_escalation(date(2026, 9, 16))
    assert first["status"] == "completed"
    assert first["log"]["ok"] is True and first["log"]["chains"] == N
    assert first["log"]["seal"]["file"] == "heads-2026-09-16-000001.txt"
    folder = Path(db_env["ARREARS_DATA_DIR"]) / "log-heads"
    assert sorted(p.name for p in folder.iterdir()) == ["heads-2026-09-16-000001.txt"]
    with store.session() as session:
        case_id = session.execute(select(Notice.case_id).limit(1)).scalar_one()
    tamper_log(
        store,
        "UPDATE case_event SET message = 'no reminder was sent' WHERE case_id = :c AND seq = 2",
        c=case_id,
    )
    second = nightly.nightly_escalation(date(2026, 9, 17))
    assert second["log"]["ok"] is False
    assert second["log"]["first_break"].startswith(f"case {case_id}, position 2")
    with store.session() as session:
        run = session.get(EscalationRun, date(2026, 9, 17))
        assert run is not None and run.counts["log"]["broken_chains"] == 1
    listed = CliRunner().invoke(app, ["runs", "list"], env=db_env)
    assert "BROKEN" in listed.stdout and "intact" in listed.stdout
    nightly._APPS.clear()
