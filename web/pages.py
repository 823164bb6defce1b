"""Server-rendered pages: Jinja2 templates in the user's language, and the `render` helper.

Templates live in ``web/templates`` and are written in English, every visible string wrapped in
``{% trans %}…{% endtrans %}`` or ``_()``; ``web/locale/<lang>/LC_MESSAGES/messages.po`` holds
the translations (zh_CN, the default, translates every string; en is the source language).
Messages built in Python are marked with ``N_()`` and translated where they are shown. After
changing a string: ``bash scripts/compile_translations.sh update``, translate the new entries in
the zh_CN catalog, then ``bash scripts/compile_translations.sh`` (setup does that part).

Filters: ``yuan`` (fen ``int`` or ``Decimal`` yuan → ``¥12,345.67``), ``agency_date``
(``2026年11月26日`` / ``26 Nov 2026``) and ``agency_time`` (an instant in the agency's time zone).
Autoescaping is on everywhere; ``StrictUndefined`` makes a misspelt variable an error, not a blank.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.support import Translations
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from cases.access import Role
from cases.money import format_grouped, yuan_to_fen
from cases.users import LANGUAGES
from web.auth import Viewer, language_of, signed_in
from web.labels import N_, label
from web.security import csrf_token

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
LOCALE_DIR = HERE / "locale"
DOMAIN = "messages"
PAGES_KEY = "pages"  # where create_app keeps the Pages on app.state

DATE_PATTERNS = {"zh_CN": "y年M月d日", "en": "d MMM y"}
TIME_PATTERNS = {"zh_CN": "y年M月d日 HH:mm", "en": "d MMM y, HH:mm"}
LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}  # each in its own language, never translated
HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}


ROLE_LABELS = {
    Role.OFFICER: N_("Collection officer"),
    Role.SUPERVISOR: N_("Supervisor"),
    Role.ADMIN: N_("Administrator"),
}


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str  # a message id
    roles: frozenset[Role]


_ALL = frozenset(Role)
_SUPERVISING = frozenset({Role.SUPERVISOR, Role.ADMIN})
NAV = (
    NavItem("/queue", N_("Case queue"), _ALL),
    NavItem("/approvals", N_("Approvals"), _SUPERVISING),
    NavItem("/log", N_("Escalation log"), _SUPERVISING),
    NavItem("/dashboard", N_("Dashboard"), _SUPERVISING),
    NavItem("/reports", N_("Reports"), _SUPERVISING),
)


@dataclass(frozen=True)
class NavLink:
    path: str
    label: str  # translated
    current: bool


def home_path(role: Role) -> str:
    """Where a user lands after signing in: the first page their role has in the menu."""
    return next(item.path for item in NAV if role in item.roles)


class MissingCatalog(RuntimeError):
    """A compiled message catalog (.mo) is missing: the translations were never compiled."""


def load_translations(language: str, locale_dir: Path = LOCALE_DIR) -> Translations:
    path = locale_dir / language / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if not path.is_file():
        raise MissingCatalog(
            f"{path} is missing: run `bash scripts/compile_translations.sh` (setup does)"
        )
    with path.open("rb") as handle:
        return Translations(handle, domain=DOMAIN)


def yuan(amount: int | Decimal) -> str:
    """An amount as screens show it: fen ``1234567`` or ``Decimal("12345.67")`` → ¥12,345.67."""
    if isinstance(amount, bool) or not isinstance(amount, int | Decimal):
        raise TypeError(f"an amount is int fen or Decimal yuan, not {type(amount).__name__}")
    fen = amount if isinstance(amount, int) else yuan_to_fen(amount)
    return ("-" if fen < 0 else "") + "¥" + format_grouped(abs(fen))


# How many distinct messages a language's gettext keeps ready (the templates hold a few hundred).
GETTEXT_CACHE_SIZE = 4096


def page_gettext(translations: Translations) -> Any:
    """The templates' ``_()`` and ``gettext()`` for one language: what Jinja's "newstyle" gettext
    does (the translation is a format string, ``%(name)s`` filled with the escaped keyword
    arguments, ``%%`` a percent sign, even without arguments), but a message without arguments
    is translated and formatted once and kept. A case page shows a few hundred of them, and
    translating each anew was a fifth of the time it took to render."""
    ready: dict[str, str] = {}

    @pass_context
    def gettext(context: Context, message: str, /, **variables: Any) -> str:
        if not context.eval_ctx.autoescape:
            return str(translations.gettext(message)) % variables
        if variables:
            return Markup(translations.gettext(message)) % variables
        done = ready.get(message)
        if done is None:
            done = Markup(translations.gettext(message)) % {}
            if len(ready) < GETTEXT_CACHE_SIZE:
                ready[message] = done
        return done

    return gettext


class Pages:
    """One Jinja2 environment per language, sharing the templates."""

    def __init__(
        self,
        timezone: ZoneInfo,
        *,
        templates_dir: Path = TEMPLATES_DIR,
        locale_dir: Path = LOCALE_DIR,
    ) -> None:
        self.timezone = timezone
        loader = FileSystemLoader(templates_dir)
        self.translations = {lang: load_translations(lang, locale_dir) for lang in LANGUAGES}
        # Parsed once: Babel would parse the name again for every date on every page.
        self.locales = {lang: Locale.parse(lang) for lang in LANGUAGES}
        self.environments = {lang: self._environment(lang, loader) for lang in LANGUAGES}

    def _environment(self, language: str, loader: FileSystemLoader) -> Environment:
        env = Environment(
            loader=loader,
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=["jinja2.ext.i18n"],
            auto_reload=False,  # the templates ship with the code: no stat of each file per page
        )
        env.policies["ext.i18n.trimmed"] = True
        env.install_gettext_translations(self.translations[language], newstyle=True)
        env.globals["gettext"] = env.globals["_"] = page_gettext(self.translations[language])
        env.filters["yuan"] = yuan
        env.filters["agency_date"] = lambda value: self.agency_date(value, language)
        env.filters["agency_time"] = lambda value: self.agency_time(value, language)
        translations = self.translations[language]
        env.globals["label"] = lambda kind, code: translations.gettext(label(kind, code))
        return env

    def gettext(self, language: str, message: str) -> str:
        return self.translations[language].gettext(message)

    def compile_all(self) -> int:
        """Compile every page template of every language now (a serving process, as it starts).
        Otherwise the first officers after a start each compile the same template at once, a
        few hundred milliseconds of one core per template and language. Returns how many."""
        compiled = 0
        for env in self.environments.values():
            for name in env.list_templates(extensions=["html"]):
                env.get_template(name)
                compiled += 1
        return compiled

    def _local(self, value: datetime) -> datetime:
        if value.utcoffset() is None:
            raise ValueError(f"{value} has no time zone: instants are stored aware")
        return value.astimezone(self.timezone)

    def agency_date(self, value: date | datetime, language: str) -> str:
        """A date as the agency writes it; an instant is first put in the agency's zone."""
        day = self._local(value).date() if isinstance(value, datetime) else value
        return format_date(day, DATE_PATTERNS[language], locale=self.locales[language])

    def agency_time(self, value: datetime, language: str) -> str:
        return format_datetime(
            self._local(value), TIME_PATTERNS[language], locale=self.locales[language]
        )

    def nav(self, viewer: Viewer | None, path: str, language: str) -> list[NavLink]:
        if viewer is None:
            return []
        return [
            NavLink(
                item.path,
                self.gettext(language, item.label),
                path == item.path or path.startswith(item.path + "/"),
            )
            for item in NAV
            if viewer.role in item.roles
        ]

    def render(self, template: str, language: str, context: Mapping[str, Any]) -> str:
        return self.environments[language].get_template(template).render(context)


def pages_of(request: Request) -> Pages:
    pages: Pages = getattr(request.app.state, PAGES_KEY)
    return pages


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """The page ``template`` in the user's language, with what ``base.html`` needs added:

    ``user`` (a ``web.auth.Viewer`` or ``None``), ``csrf_token`` (and ``csrf_field``, the hidden
    input that carries it), ``language``, ``nav`` (the links the user's role has),
    ``current_path`` (for the language switch to come back to), ``role_label``,
    ``language_names`` and ``request``. Reads the store for the user: call it
    from a sync route.
    """
    pages = pages_of(request)
    viewer = signed_in(request)
    language = language_of(request)
    path = request.url.path
    token = csrf_token(request)
    base = {
        "request": request,
        "user": viewer,
        "csrf_token": token,
        # Every form's hidden token field, made once per page (a macro call per form cost more).
        "csrf_field": Markup('<input type="hidden" name="csrf_token" value="%s">') % token,
        "language": language,
        "html_lang": HTML_LANG[language],
        "language_names": LANGUAGE_NAMES,
        "nav": pages.nav(viewer, path, language),
        "current_path": path + (f"?{request.url.query}" if request.url.query else ""),
        "role_label": pages.gettext(language, ROLE_LABELS[viewer.role]) if viewer else "",
    }
    body = pages.render(template, language, {**base, **context})
    return HTMLResponse(body, status_code=status_code, headers=dict(headers or {}))
