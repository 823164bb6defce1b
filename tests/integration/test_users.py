"""Accounts and signing in, on SQLite and PostgreSQL: rules, throttling, the `users` commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import select
from sqlmodel import col
from typer.testing import CliRunner

from arrears.cli import app as cli
from arrears.wiring import App
from cases.models import LoginAttempt, User
from cases.users import (
    InvalidField,
    SignInFailed,
    TooManyAttempts,
    UnknownUser,
    add_user,
    authenticate,
    find_user,
    list_users,
    set_active,
    set_districts,
    set_password,
)

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
PASSWORD = "correct horse 42"
OFFICE = "10.1.2.3"


def add_officer(store: App, username: str = "zhangwei", **fields: object) -> None:
    values: dict[str, object] = {
        "username": username,
        "display_name": "张伟",
        "role": "officer",
        "districts": ["和平区"],
        "password": PASSWORD,
        **fields,
    }
    with store.session() as session:
        add_user(session, **values)  # type: ignore[arg-type]


def sign_in(store: App, username: str = "zhangwei", password: str = PASSWORD, **kw: object) -> User:
    args: dict[str, object] = {"client": OFFICE, "now": NOW, **kw}
    with store.session() as session:
        return authenticate(session, username=username, password=password, **args)  # type: ignore[arg-type]


def attempts(store: App) -> list[tuple[str, str, bool]]:
    with store.session() as session:
        rows = session.execute(select(LoginAttempt).order_by(col(LoginAttempt.id))).scalars()
        return [(a.username, a.client, a.succeeded) for a in rows]


# --- the rules ---------------------------------------------------------------------------------


def test_a_user_is_stored_with_a_hash_and_a_lower_case_name(store: App) -> None:
    add_officer(store, username="  ZhangWei ", districts=["河西区", "和平区", "河西区"])
    with store.session() as session:
        user = find_user(session, username="zhangwei")
        assert user is not None
        assert user.districts == ["河西区", "和平区"]
        assert user.password_hash and user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        assert user.language == "zh_CN" and user.active
        (listed,) = list_users(session)
    assert listed.username == "zhangwei" and not hasattr(listed, "password_hash")


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"username": "zw"}, "username", "3 to 32"),
        ({"username": "张伟"}, "username", "a-z"),
        ({"username": "a" * 33}, "username", "3 to 32"),
        ({"role": "boss"}, "role", "officer, supervisor, admin"),
        ({"districts": []}, "districts", "at least one district"),
        ({"role": "supervisor", "districts": []}, "districts", "at least one district"),
        ({"districts": ["朝阳区"]}, "districts", "not a district of Tianjin"),
        ({"password": "short1"}, "password", "at least 10"),
        ({"password": "1234567890123"}, "password", "digits only"),
        ({"username": "zhangwei2026", "password": "ZhangWei2026"}, "password", "user name"),
        ({"language": "fr"}, "language", "zh_CN, en"),
        ({"display_name": "   "}, "display_name", "empty"),
    ],
)
def test_what_breaks_a_rule_is_refused_naming_the_field(
    store: App, fields: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(InvalidField, match=words) as refused:
        add_officer(store, **fields)
    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}: ")
    assert isinstance(refused.value, ValueError)
    with store.session() as session:
        assert list_users(session) == []


def test_an_admin_needs_no_district_and_a_name_is_taken_once(store: App) -> None:
    add_officer(store, username="admin", role="admin", districts=[])
    with pytest.raises(InvalidField, match="'admin' is taken"):
        add_officer(store, username="Admin")


def test_changes_to_a_user(store: App) -> None:
    add_officer(store)
    with store.session() as session:
        set_districts(session, username="zhangwei", districts=["南开区"])
        set_active(session, username="zhangwei", active=False)
        with pytest.raises(InvalidField, match="at least one district"):
            set_districts(session, username="zhangwei", districts=[])
        with pytest.raises(UnknownUser, match="no user named 'lisi'"):
            set_password(session, username="lisi", password="another one 7")
    with store.session() as session:
        user = find_user(session, username="zhangwei")
        assert user is not None and user.districts == ["南开区"] and not user.active


# --- signing in --------------------------------------------------------------------------------


def test_the_right_password_signs_in_and_every_attempt_is_recorded(store: App) -> None:
    add_officer(store)
    assert sign_in(store, username=" ZhangWei").username == "zhangwei"
    with pytest.raises(SignInFailed):
        sign_in(store, password="wrong password")
    assert attempts(store) == [("zhangwei", OFFICE, True), ("zhangwei", OFFICE, False)]


def test_an_unknown_user_and_a_wrong_password_read_the_same(store: App) -> None:
    add_officer(store)
    with pytest.raises(SignInFailed) as unknown:
        sign_in(store, username="nobody")
    with pytest.raises(SignInFailed) as wrong:
        sign_in(store, password="wrong password")
    assert type(unknown.value) is type(wrong.value) is SignInFailed
    assert str(unknown.value) == str(wrong.value) == "wrong user name or password"


def test_a_disabled_user_cannot_sign_in(store: App) -> None:
    add_officer(store)
    with store.session() as session:
        set_active(session, username="zhangwei", active=False)
    with pytest.raises(SignInFailed, match="wrong user name or password"):
        sign_in(store)


def test_five_failures_lock_the_user_name_until_the_window_passes(store: App) -> None:
    add_officer(store)
    for minute in range(5):
        with pytest.raises(SignInFailed) as failed:
            sign_in(store, password=f"guess number {minute}", now=NOW + timedelta(minutes=minute))
        assert not isinstance(failed.value, TooManyAttempts)
    # The right password, from another address, is refused without being checked; the refusal
    # counts, so the lock lifts when the failures of 02:00 and 02:01 have aged out.
    with pytest.raises(TooManyAttempts) as locked:
        sign_in(store, client="10.9.9.9", now=NOW + timedelta(minutes=6))
    assert locked.value.until == NOW + timedelta(minutes=16)
    assert "try again after 2026-11-26 02:16 UTC" in str(locked.value)
    # Trying before then pushes the time back, and the new time given holds.
    with pytest.raises(TooManyAttempts) as early:
        sign_in(store, now=NOW + timedelta(minutes=15, seconds=59))
    assert early.value.until == NOW + timedelta(minutes=17)
    assert sign_in(store, now=early.value.until + timedelta(seconds=1)).username == "zhangwei"
    assert [a[2] for a in attempts(store)] == [False] * 7 + [True]


def test_an_unknown_user_name_locks_like_a_known_one(store: App) -> None:
    for minute in range(5):
        with pytest.raises(SignInFailed):
            sign_in(store, username="nobody", now=NOW + timedelta(minutes=minute))
    with pytest.raises(TooManyAttempts) as locked:
        sign_in(store, username="nobody", now=NOW + timedelta(minutes=5))
    assert locked.value.until == NOW + timedelta(minutes=16)


def test_twenty_failures_from_one_address_lock_the_address(store: App) -> None:
    add_officer(store)
    with store.session() as session:
        session.add_all(
            LoginAttempt(username=f"guess{i}", client=OFFICE, at=NOW, succeeded=False)
            for i in range(20)
        )
    with pytest.raises(TooManyAttempts) as locked:
        sign_in(store, now=NOW + timedelta(minutes=1))
    assert locked.value.until == NOW + timedelta(minutes=15)
    assert sign_in(store, client="10.1.2.4", now=NOW + timedelta(minutes=1)).username == "zhangwei"


def test_a_hash_with_old_parameters_is_renewed_at_sign_in(store: App) -> None:
    add_officer(store)
    old = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1),)).hash(PASSWORD)
    with store.session() as session:
        user = find_user(session, username="zhangwei")
        assert user is not None
        user.password_hash = old
    renewed = sign_in(store).password_hash
    assert renewed is not None and renewed != old and "m=65536" in renewed
    assert sign_in(store).password_hash == renewed


def test_now_must_be_aware(store: App) -> None:
    with pytest.raises(ValueError, match="aware"):
        sign_in(store, now=datetime(2026, 11, 26, 2, 0))


# --- the commands ------------------------------------------------------------------------------


def run(db_env: dict[str, str], *args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=db_env, input=input)
    return result.exit_code, result.output


def test_users_add_asks_for_the_password_twice(store: App, db_env: dict[str, str]) -> None:
    code, output = run(
        db_env,
        "users", "add", "ZhangWei", "--name", "张伟", "--role", "officer",
        "--district", "和平区", "--district", "河西区", "--language", "en",
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert code == 0, output
    assert "zhangwei (officer; 和平区、河西区) added" in output
    assert PASSWORD not in output
    user = sign_in(store)
    assert (user.display_name, user.language, user.districts) == (
        "张伟",
        "en",
        ["和平区", "河西区"],
    )


def test_users_add_reads_the_password_from_stdin(store: App, db_env: dict[str, str]) -> None:
    code, output = run(
        db_env, "users", "add", "boss", "--name", "王主任", "--role", "admin",
        "--password-stdin", input=f"{PASSWORD}\r\n",
    )  # fmt: skip
    assert code == 0, output
    assert sign_in(store, username="boss").role == "admin"


def test_users_add_refusals_are_one_line(store: App, db_env: dict[str, str]) -> None:
    base = ["users", "add", "zhangwei", "--name", "张伟", "--password-stdin"]
    code, output = run(db_env, *base, "--role", "officer", input=f"{PASSWORD}\n")
    assert code == 1
    assert output.strip() == "error: districts: an officer must serve at least one district"
    code, output = run(
        db_env, *base, "--role", "officer", "--district", "和平区", input="1234567890\n"
    )
    assert (code, output.strip()) == (1, "error: password: must not be digits only")
    code, output = run(db_env, *base, "--role", "officer", "--district", "和平区", input="")
    assert code == 2 and "standard input is empty" in output
    with store.session() as session:
        assert list_users(session) == []


def test_users_list_passwd_disable_enable_districts(store: App, db_env: dict[str, str]) -> None:
    add_officer(store)
    code, output = run(db_env, "users", "list", "--json")
    assert code == 0 and '"username": "zhangwei"' in output and "argon2" not in output

    new_password = "a brand new one 9"
    code, output = run(db_env, "users", "passwd", "zhangwei", "--password-stdin",
                       input=f"{new_password}\n")  # fmt: skip
    assert code == 0, output
    assert sign_in(store, password=new_password).username == "zhangwei"

    assert run(db_env, "users", "disable", "zhangwei")[0] == 0
    with pytest.raises(SignInFailed):
        sign_in(store, password=new_password)
    assert run(db_env, "users", "enable", "zhangwei")[0] == 0
    code, output = run(db_env, "users", "districts", "zhangwei", "--district", "南开区")
    assert (code, output.strip()) == (0, "zhangwei serves 南开区")
    assert sign_in(store, password=new_password).districts == ["南开区"]

    code, output = run(db_env, "users", "disable", "lisi")
    assert (code, output.strip()) == (1, "error: no user named 'lisi'")


def test_serve_says_how_to_sign_in_the_first_time(
    store: App, db_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    import web.serving

    served: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda api, **options: served.append(options))
    # The serving process's collector is tuned before it serves (not this test process's).
    monkeypatch.setattr(web.serving, "tune_gc", lambda: served.append({"gc": "tuned"}))
    code, output = run(db_env, "serve", "--port", "8123")
    assert code == 0, output
    assert served == [
        {"gc": "tuned"},
        {"host": "127.0.0.1", "port": 8123, "log_level": "info", "access_log": True},
    ]
    assert "sign in at http://127.0.0.1:8123/login" in output
    assert "no users yet" in output and "arrears users add admin" in output

    add_officer(store)
    code, output = run(db_env, "serve")
    assert code == 0 and "no users yet" not in output
