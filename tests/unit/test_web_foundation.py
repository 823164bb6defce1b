"""The web app's pure parts: filters, redirects, the secret key, the message catalogs."""

from __future__ import annotations

import stat
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from pydantic import ValidationError

from arrears.settings import REPO_ROOT, Settings
from arrears.wiring import BadSecretKey, stored_secret_key
from cases.access import Role
from web.pages import LOCALE_DIR, NAV, Pages, home_path, yuan
from web.security import safe_next

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def pages() -> Pages:
    return Pages(SHANGHAI)


# --- filters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (1234567, "¥12,345.67"),
        (Decimal("12345.67"), "¥12,345.67"),
        (0, "¥0.00"),
        (5, "¥0.05"),
        (-150000, "-¥1,500.00"),
        (Decimal("1000000"), "¥1,000,000.00"),
    ],
)
def test_yuan_shows_fen_and_decimal_yuan(amount: int | Decimal, shown: str) -> None:
    assert yuan(amount) == shown


@pytest.mark.parametrize("amount", [12.5, True, "12.50"])
def test_yuan_refuses_what_is_not_money(amount: object) -> None:
    with pytest.raises(TypeError):
        yuan(amount)  # type: ignore[arg-type]


def test_yuan_refuses_fractions_of_a_fen() -> None:
    with pytest.raises(ValueError, match="more than two decimals"):
        yuan(Decimal("1.005"))


def test_agency_date_in_both_languages(pages: Pages) -> None:
    day = date(2026, 11, 26)
    assert pages.agency_date(day, "zh_CN") == "2026年11月26日"
    assert pages.agency_date(day, "en") == "26 Nov 2026"


def test_an_instant_is_dated_in_the_agencys_zone(pages: Pages) -> None:
    late_evening_utc = datetime(2026, 11, 26, 17, 30, tzinfo=UTC)  # 01:30 on the 27th in Tianjin
    assert pages.agency_date(late_evening_utc, "zh_CN") == "2026年11月27日"
    assert pages.agency_time(late_evening_utc, "en") == "27 Nov 2026, 01:30"
    with pytest.raises(ValueError, match="no time zone"):
        pages.agency_date(datetime(2026, 11, 26, 17, 30), "en")


def test_filters_are_bound_in_templates(pages: Pages) -> None:
    template = "{{ amount | yuan }} {{ day | agency_date }}"
    rendered = {
        lang: pages.environments[lang]
        .from_string(template)
        .render(amount=1234567, day=date(2026, 11, 26))
        for lang in ("zh_CN", "en")
    }
    assert rendered == {"zh_CN": "¥12,345.67 2026年11月26日", "en": "¥12,345.67 26 Nov 2026"}


def test_templates_escape_what_they_show(pages: Pages) -> None:
    template = pages.environments["zh_CN"].from_string("<td>{{ name }}</td>")
    assert template.render(name="<script>x()</script>") == (
        "<td>&lt;script&gt;x()&lt;/script&gt;</td>"
    )


def test_template_messages_are_translated_formatted_and_escaped(pages: Pages) -> None:
    template = (
        '{{ _("Sign in") }}|{{ _("Sign in") }}|{{ _("100%% paid") }}|'
        '{{ _("Case %(case)s", case=name) }}|{% trans %}Sign in{% endtrans %}'
    )
    shown = {
        lang: pages.environments[lang].from_string(template).render(name="<b>7</b>")
        for lang in ("zh_CN", "en")
    }
    # Kept once translated, each language its own; a percent sign written %% whether or not the
    # message has arguments; arguments escaped, the translation itself not.
    assert shown["zh_CN"] == "登录|登录|100% paid|Case &lt;b&gt;7&lt;/b&gt;|登录"
    assert shown["en"] == "Sign in|Sign in|100% paid|Case &lt;b&gt;7&lt;/b&gt;|Sign in"


def test_every_role_has_a_home_page() -> None:
    assert {role: home_path(role) for role in Role} == {
        Role.OFFICER: "/queue",
        Role.SUPERVISOR: "/queue",
        Role.ADMIN: "/queue",
    }
    assert [item.path for item in NAV if Role.OFFICER in item.roles] == ["/queue"]


# --- redirects ---------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["/queue", "/cases/12?tab=log", "/"])
def test_a_local_path_is_a_safe_next(target: str) -> None:
    assert safe_next(target) == target


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/queue",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "queue",
        "/queue\r\nSet-Cookie: x=1",
        "",
        None,
    ],
)
def test_anything_else_is_not(target: str | None) -> None:
    assert safe_next(target) is None


# --- the secret key ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["changeme", "short-but-random-9f8e7d", "changeme" * 5, "x" * 48, "ab" * 24],
)
def test_a_placeholder_secret_key_is_refused(key: str) -> None:
    with pytest.raises(ValidationError, match="secret_key"):
        Settings(secret_key=key)


def test_a_random_secret_key_is_accepted_and_a_blank_one_is_unset() -> None:
    key = "Zq3v9_hT1kLm0pXr8sWc2yBn6dFg4jKa5uEo7iQt"
    secret = Settings(secret_key=key).secret_key
    assert secret is not None and secret.get_secret_value() == key
    assert Settings(secret_key="  ").secret_key is None


def test_the_stored_key_is_made_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "var" / "secret_key"
    key = stored_secret_key(path)
    assert len(key) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stored_secret_key(path) == key
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no temporary left


def test_a_readable_key_file_is_made_private_and_a_bad_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    path.write_text("Zq3v9_hT1kLm0pXr8sWc2yBn6dFg4jKa5uEo7iQt\n")
    path.chmod(0o644)
    assert stored_secret_key(path) == "Zq3v9_hT1kLm0pXr8sWc2yBn6dFg4jKa5uEo7iQt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("changeme\n")
    with pytest.raises(BadSecretKey, match="delete the file"):
        stored_secret_key(path)


# --- catalogs ----------------------------------------------------------------------------------


def test_the_zh_cn_catalog_translates_every_string_of_the_web_app() -> None:
    """Every string extracted from web/ (templates and N_() in Python) and from cases/ (the
    message ids of refusals) has a Chinese text."""
    extracted = {
        message if isinstance(message, str) else message[0]
        for source in ("web", "cases")
        for _file, _line, message, _comments, _context in extract_from_dir(
            REPO_ROOT / source,
            method_map=[("**.py", "python"), ("templates/**.html", "jinja2")],
            options_map={"templates/**.html": {"trimmed": "true", "silent": "false"}},
        )
    }
    assert "Sign in" in extracted and "Case queue" in extracted
    assert "{day} is before today ({today})" in extracted  # a refusal of cases/
    with (LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    assert sorted(extracted - translated) == []


def test_the_catalogs_are_compiled(pages: Pages) -> None:
    assert pages.gettext("zh_CN", "Sign in") == "登录"
    assert pages.gettext("en", "Sign in") == "Sign in"
