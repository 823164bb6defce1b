"""Reading what an officer typed into the case page's forms: each reader takes the posted form
and a field's name, and gives the value or refuses the field with the reason, by its name, so the
page can say it beside the form and keep what was typed (``web.case_pages``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation

from cases import actions
from cases.money import MoneyError, typed_yuan
from web.labels import N_

NOT_AN_AMOUNT = N_("{raw!r} is not an amount in yuan")


def text(form: Mapping[str, str], name: str) -> str:
    return form.get(name, "").strip()


def optional(form: Mapping[str, str], name: str) -> str | None:
    return text(form, name) or None


def typed_amount(raw: str) -> Decimal | None:
    """Yuan as typed (thousands separators and a yuan sign allowed), or None if not a number."""
    try:
        return typed_yuan(raw)
    except MoneyError:
        return None


def amount(form: Mapping[str, str], name: str) -> Decimal:
    raw = text(form, name)
    value = typed_amount(raw)
    if value is None:
        raise actions.ActionRefused(name, key=NOT_AN_AMOUNT, raw=raw.lstrip("¥￥"))
    return value


def day(form: Mapping[str, str], name: str) -> date:
    raw = text(form, name)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise actions.ActionRefused(
            name, key=N_("{raw!r} is not a date (YYYY-MM-DD)"), raw=raw
        ) from None


def record_id(form: Mapping[str, str], name: str) -> int:
    raw = text(form, name)
    if not raw.isdigit():
        raise actions.ActionRefused(name, key=N_("choose one from the list"))
    return int(raw)


def optional_id(form: Mapping[str, str], name: str) -> int | None:
    return record_id(form, name) if text(form, name) else None


def multiple(form: Mapping[str, str], name: str) -> Decimal:
    raw = text(form, name).replace("×", "").replace("倍", "").strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise actions.ActionRefused(name, key=N_("{raw!r} is not a number"), raw=raw) from None
    return value


def verdict(form: Mapping[str, str]) -> bool:
    """A supervisor's decision on a proposal: impose it, or reject it."""
    verdict = text(form, "verdict")
    if verdict not in ("impose", "reject"):
        raise actions.ActionRefused("verdict", key=N_("choose one from the list"))
    return verdict == "impose"


INSTALMENT_ROWS = 12  # rows of the agreement form; an agreement with more is recorded by the CLI


def instalments(form: Mapping[str, str]) -> list[tuple[date, Decimal]]:
    """The agreement form's instalment rows in the order shown; a row left empty is skipped,
    a row half filled or mistyped is refused by its number."""
    schedule: list[tuple[date, Decimal]] = []
    for row in range(1, INSTALMENT_ROWS + 1):
        due, amount = text(form, f"due_{row}"), text(form, f"amount_{row}")
        if not due and not amount:
            continue
        if not due or not amount:
            raise actions.ActionRefused(
                "instalments", key=N_("row {row}: give both the due date and the amount"), row=row
            )
        try:
            due_on = date.fromisoformat(due)
        except ValueError:
            raise actions.ActionRefused(
                "instalments",
                key=N_("row {row}: {raw!r} is not a date (YYYY-MM-DD)"),
                row=row,
                raw=due,
            ) from None
        value = typed_amount(amount)
        if value is None:
            raise actions.ActionRefused(
                "instalments",
                key=N_("row {row}: {raw!r} is not an amount in yuan"),
                row=row,
                raw=amount,
            )
        schedule.append((due_on, value))
    return schedule


def transferred(form: Mapping[str, str]) -> Decimal:
    """The amount the bank transferred; left blank when it transferred nothing, it is zero."""
    if text(form, "result") == "none" and not text(form, "amount"):
        return Decimal(0)
    return amount(form, "amount")


def write_off_document(form: Mapping[str, str]) -> actions.WriteOffDocumentIn:
    """The one supporting document the case page's write-off form takes."""
    return actions.WriteOffDocumentIn(
        kind=text(form, "kind"),
        issued_by=text(form, "issued_by"),
        reference=text(form, "reference"),
        issued_on=day(form, "issued_on"),
    )
