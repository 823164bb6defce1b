"""Messages the domain writes in English that a screen shows in the reader's language.

A refusal carries a message id (an English template marked with ``N_``, which the web app's
catalogs extract from ``cases/`` too) and its parameters; formatted in English it reads exactly as
the refusal always has, so the CLI, the logs and the tests see the same sentence. The web app
translates the template and shows each parameter its own way: ``Money`` as ``¥12,345.67``, a
``date`` in the agency's format, a ``Term`` by its label, ``Words`` translated. Imports nothing
outward: the web app reads this module, never the other way round.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cases.money import format_yuan


def N_(message: str) -> str:
    """Mark a message for the catalogs; it is translated where it is shown."""
    return message


class Words(str):
    """A message id used as a parameter: shown translated (``doing="record a payment"``)."""

    __slots__ = ()


@dataclass(frozen=True)
class Money:
    """Fen, written ``¥12345.67`` in English as the refusals always were."""

    fen: int

    def __str__(self) -> str:
        return "¥" + format_yuan(self.fen)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


@dataclass(frozen=True)
class Term:
    """A stored code (a status, a flag) shown by its label; ``text`` is its English wording."""

    kind: str  # which labels it has: "status", "flag", "service", "step"...
    code: str
    text: str

    def __str__(self) -> str:
        return self.text

    def __format__(self, spec: str) -> str:
        return format(self.text, spec)


@dataclass(frozen=True)
class Terms:
    """Several codes of one kind (the choices a field allows), joined by ``sep`` in English."""

    kind: str
    codes: tuple[str, ...]
    sep: str = ", "

    def __str__(self) -> str:
        return self.sep.join(self.codes)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


class Explained:
    """An exception whose message has an id and parameters, for a reader of another language.

    ``key`` is None for a message not written that way (shown as its English text, or replaced
    by a general sentence where it is shown).
    """

    key: str | None
    params: Mapping[str, Any]

    def explain(self, key: str | None, params: Mapping[str, Any]) -> None:
        self.key = key
        self.params = dict(params)

    def english(self) -> str | None:
        """The message formatted from its id: equals the English text the exception carries."""
        return self.key.format(**self.params) if self.key is not None else None
