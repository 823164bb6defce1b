"""The composition root: settings → engine, policy, calendar. Nothing is built at import time."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlmodel import Session

from arrears.db import alembic_config, make_engine, upgrade
from arrears.settings import Settings, check_secret_key
from cases import review
from cases.casework import PolicyRef
from cases.policy import Policy, PolicyError
from cases.policy_file import load_policy
from cases.workdays import WorkCalendar
from notifications.channels import Transport
from notifications.documents import DocumentStore
from notifications.escalation import Escalation
from notifications.letters import LetterDesk, LetterDetails, LetterRenderer
from notifications.pdf import PdfPrinter, require_cjk_font
from notifications.texts import check_texts
from notifications.twilio_transport import make_transport

SECRET_KEY_FILE = "secret_key"


class NotInitialised(Exception):
    pass


class BadSecretKey(Exception):
    """The data folder's secret key file holds no usable key."""


def stored_secret_key(path: Path) -> str:
    """The key kept in ``path``, created (random, readable by the owner only) on first use.

    The new key is written to a private temporary file first and linked into place, so that two
    processes starting at once end up with the same, complete key.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process was first: use its key
        finally:
            temporary.unlink()
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)  # a copied or restored file: nobody else may read it
    key = path.read_text(encoding="ascii").strip()
    try:
        check_secret_key(key)
    except ValueError as exc:
        raise BadSecretKey(f"{path}: the key {exc}; delete the file to make a new one") from None
    return key


@dataclass
class App:
    settings: Settings

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.effective_database_url)

    @property
    def database_label(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def today(self) -> date:
        """The agency's local date of :meth:`now`, the one place the wall clock enters the app."""
        return self.now().astimezone(self.settings.tz).date()

    def now(self) -> datetime:
        """The current instant, aware, in UTC (sign-in throttling, session times)."""
        return datetime.now(UTC)

    @cached_property
    def secret_key(self) -> str:
        """What signs the web app's cookies: ARREARS_SECRET_KEY, else the data folder's own key."""
        if self.settings.secret_key is not None:
            return self.settings.secret_key.get_secret_value()
        return stored_secret_key(self.settings.data_dir / SECRET_KEY_FILE)

    @cached_property
    def calendar(self) -> WorkCalendar:
        return WorkCalendar(self.settings.holiday_file)

    @cached_property
    def policy(self) -> Policy:
        policy = load_policy(
            self.settings.policy_file,
            templates_dir=self.settings.templates_dir,
            calendar=self.calendar,
        )
        problems = check_texts(policy, self.settings.templates_dir, self.settings.agency)
        if problems:
            raise PolicyError(problems)
        return policy

    @cached_property
    def review_basis(self) -> str:
        """What every decision reads beyond a case's facts (``cases.review.basis``)."""
        return review.basis(self.policy, self.calendar.holiday_file)

    @cached_property
    def policy_ref(self) -> PolicyRef:
        policy = self.policy
        return PolicyRef(name=policy.name, version=policy.version, fee_rules=policy.fee_rules)

    @cached_property
    def documents(self) -> DocumentStore:
        return DocumentStore(self.settings.data_dir / "documents")

    @cached_property
    def printer(self) -> PdfPrinter:
        require_cjk_font()  # refuse up front rather than file letters of empty boxes
        return PdfPrinter(self.settings.templates_dir / "letters")

    def letter_desk(self, session: Session, details: LetterDetails | None = None) -> LetterDesk:
        return LetterDesk(
            session=session,
            policy=self.policy,
            agency=self.settings.agency,
            renderer=LetterRenderer(self.settings.templates_dir),
            printer=self.printer,
            store=self.documents,
            details=details or LetterDetails(),
        )

    @cached_property
    def transport(self) -> Transport:
        return make_transport(self.settings)

    def escalation(self) -> Escalation:
        base = self.settings.public_base_url
        return Escalation(
            sessions=self.session,
            policy=self.policy,
            agency=self.settings.agency,
            templates_dir=self.settings.templates_dir,
            transport=self.transport,
            desk=self.letter_desk,
            status_callback=f"{base}/twilio/status" if base else None,
            timezone=self.settings.tz,
            concurrency=self.settings.sms_concurrency,
        )

    def init_db(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade(self.engine)

    def check_db(self) -> None:
        """Refuse to work on a store that was never set up or is behind the code's schema."""
        url = self.engine.url
        if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
            raise NotInitialised(
                f"the case store at {self.database_label} is not set up: run `arrears init`"
            )
        cfg = alembic_config(url.render_as_string(hide_password=False))
        head = ScriptDirectory.from_config(cfg).get_current_head()
        with self.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        if current is None:
            raise NotInitialised(
                f"the case store at {self.database_label} is not set up: run `arrears init`"
            )
        if current != head:
            raise NotInitialised(
                f"the case store at {self.database_label} is at schema {current}, the code needs "
                f"{head}: run `arrears init` to upgrade it"
            )

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session that only reads: each statement on its own, no BEGIN or COMMIT sent.

        PostgreSQL's READ COMMITTED gives each statement its own snapshot inside a transaction
        too, so a page reading in this mode sees what it would have seen in one, for two round
        trips less.
        """
        with Session(self._autocommit, expire_on_commit=False) as session:
            yield session

    @cached_property
    def _autocommit(self) -> Engine:
        return self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends normally, rolled back otherwise."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
