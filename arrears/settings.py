"""The one settings class: everything configurable, read from the environment (prefix ARREARS_)."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Agency(BaseModel):
    """The issuing office as its letters show it: letterhead, seal, where to pay and to appeal.

    Set per office through the environment, e.g. ``ARREARS_AGENCY__NAME=...``. The defaults
    describe an invented district office so that a new installation prints complete letters.
    """

    name: str = "天津市社会保险基金管理中心和平分中心"
    short_name: str = "和平社保"
    address: str = "天津市和平区南京路189号"
    postcode: str = "300051"
    phone: str = "022-27301234"
    seal_text: str = "天津市社会保险基金管理中心和平分中心（印章）"
    bank_name: str = "中国工商银行天津和平支行"
    bank_account: str = "0302001109300012345"
    reconsideration_body: str = "天津市和平区人民政府"
    court: str = "天津市和平区人民法院"
    # Who receives a referral (inspection is the office's own; audit and labour supervision are
    # separate bodies).
    audit_body: str = "天津市社会保险基金管理中心稽核处"
    labour_supervision_body: str = "天津市和平区劳动保障监察大队"
    # 文号 prefix: the city's and office's abbreviation, then a code per kind of document.
    document_prefix: str = "津和社保"
    document_codes: dict[str, str] = Field(
        default_factory=lambda: {
            "reminder_letter": "催",
            "interview_notice": "约",
            "inspection_referral": "查",
            "order_to_pay": "限缴",
            "enforcement_demand": "催告",
            "forced_transfer_decision": "划决",
            "bank_transfer_notice": "协划",
            "collateral_demand": "担",
            "deferred_payment_agreement": "缓协",
            "court_application": "执申",
        }
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ARREARS_", env_file=None, extra="ignore", env_nested_delimiter="__"
    )

    agency: Agency = Field(default_factory=Agency)
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
