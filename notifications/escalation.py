"""One night of escalation: plan what is due, send it, print the letters.

Planning (``notifications.night_plan``) decides the cases due for review and writes every notice
with its unique business key (case, step, channel, date) and the step's event, batch by batch,
before anything leaves the building. Sending (``notifications.dispatch``) marks a batch of
messages ``sending`` and commits before the provider is called, so after a crash a message left
``sending`` (or one whose outcome was unknown) is looked up at the provider before it is sent
again: never sent twice, never forgotten. Printing numbers, renders and files the planned letters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment
from sqlalchemy import select
from sqlmodel import Session, col

from cases.models import Notice
from cases.notices import letters_to_print
from cases.policy import Policy
from notifications.channels import Transport
from notifications.dispatch import Dispatch, Sessions, in_district
from notifications.letters import LetterDesk
from notifications.night_plan import ACTOR, NightPlan
from notifications.texts import text_environment


@dataclass
class NightSummary:
    as_of: date
    examined: int = 0
    steps: Counter[str] = field(default_factory=Counter)
    channels: Counter[str] = field(default_factory=Counter)
    approvals_requested: int = 0
    promises_broken: int = 0
    deferred: int = 0
    agreements_breached: int = 0  # deferred-payment agreements broken by a missed instalment
    sent: Counter[str] = field(default_factory=Counter)  # notice status after sending
    letters_printed: int = 0
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": str(self.as_of),
            "examined": self.examined,
            "steps": dict(self.steps),
            "channels": dict(self.channels),
            "approvals_requested": self.approvals_requested,
            "promises_broken": self.promises_broken,
            "deferred": self.deferred,
            "agreements_breached": self.agreements_breached,
            "sent": dict(self.sent),
            "letters_printed": self.letters_printed,
            "failures": list(self.failures),
        }

    def add(self, other: dict[str, Any]) -> None:
        """Fold one district's counts (as ``as_dict`` gives them) into the night's."""
        self.examined += other["examined"]
        self.steps.update(other["steps"])
        self.channels.update(other["channels"])
        self.approvals_requested += other["approvals_requested"]
        self.promises_broken += other["promises_broken"]
        self.deferred += other["deferred"]
        self.agreements_breached += other.get("agreements_breached", 0)
        self.sent.update(other["sent"])
        self.letters_printed += other["letters_printed"]
        self.failures.extend(other["failures"])


@dataclass
class Escalation:
    """The parts one night needs; ``sessions`` opens a unit of work (commit on success)."""

    sessions: Sessions
    policy: Policy
    agency: Any
    templates_dir: Any
    transport: Transport
    desk: Callable[[Session], LetterDesk]
    status_callback: str | None = None
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    # A message the provider could not take (throttled, down) is tried again on later runs,
    # this many attempts in all, before the step goes by letter.
    max_attempts: int = 3
    concurrency: int = 4  # requests in flight at once

    def run(
        self,
        as_of: date,
        district: str | None = None,
        *,
        full: bool = False,
    ) -> NightSummary:
        """Plan, send and print one night (of one district, if given).

        ``full``: decide every open case, not only those due for review (``cases.review``).
        """
        summary = NightSummary(as_of)
        self.plan(as_of, summary, district, full=full)
        self.send(summary, district)
        self.print_letters(summary, district)
        return summary

    @cached_property
    def texts(self) -> Environment:
        """The SMS and voice templates, loaded once for every district and night this object
        runs (no file check per text: templates do not change under a run)."""
        return text_environment(self.templates_dir, auto_reload=False)

    def plan(
        self,
        as_of: date,
        summary: NightSummary,
        district: str | None = None,
        *,
        full: bool = False,
    ) -> None:
        planner = NightPlan(
            policy=self.policy,
            agency=self.agency,
            env=self.texts,
            as_of=as_of,
            summary=summary,
        )
        planner.run(self.sessions, district, full=full)

    def send(self, summary: NightSummary, district: str | None = None) -> None:
        Dispatch(
            self.sessions,
            self.transport,
            status_callback=self.status_callback,
            timezone=self.timezone,
            max_attempts=self.max_attempts,
            concurrency=self.concurrency,
        ).send(summary, district)

    # ------------------------------------------------------------------ printing

    def print_letters(self, summary: NightSummary, district: str | None = None) -> None:
        with self.sessions() as session:
            ids = letters_to_print(session)
            if district is not None:
                ids = list(
                    session.execute(
                        in_district(select(col(Notice.id)).where(col(Notice.id).in_(ids)), district)
                    ).scalars()
                )
        for notice_id in ids:
            try:
                with self.sessions() as session:
                    notice = session.get(Notice, notice_id)
                    assert notice is not None
                    self.desk(session).print_notice(notice, actor=ACTOR)
                summary.letters_printed += 1
            except Exception as exc:  # recorded; the other letters still print
                summary.failures.append(f"letter {notice_id}: {type(exc).__name__}: {exc}")
