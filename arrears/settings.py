"""The one settings class: everything configurable, read from the environment (prefix ARREARS_)."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARREARS_", env_file=None, extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="SQLite file, PDFs, outbox, exports")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; unset means the embedded SQLite file under data_dir",
    )
    policy_file: Path = REPO_ROOT / "cases" / "policies" / "tianjin-2016.toml"
    templates_dir: Path = REPO_ROOT / "templates"
    holiday_file: Path = REPO_ROOT / "cases" / "calendars" / "holidays.toml"
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone name
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'arrears.sqlite3').resolve()}"


def normalise_database_url(url: str) -> str:
    """Accept the plain ``postgresql://`` form people copy from psql; use the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
