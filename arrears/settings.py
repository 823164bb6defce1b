"""The one settings class: everything configurable, read from the environment (prefix ARREARS_)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
TWILIO_API_URL = "https://api.twilio.com"  # the Twilio client's own default for the REST API


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
            "fine_decision": "罚决",
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

    # Twilio credentials under Twilio's own variable names (the ARREARS_ spelling also works).
    twilio_account_sid: str | None = Field(
        default=None,
        validation_alias=AliasChoices("TWILIO_ACCOUNT_SID", "ARREARS_TWILIO_ACCOUNT_SID"),
    )
    twilio_auth_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("TWILIO_AUTH_TOKEN", "ARREARS_TWILIO_AUTH_TOKEN"),
    )
    public_base_url: str | None = Field(
        default=None,
        description=(
            "the public URL Twilio calls this service at, e.g. https://arrears.example.gov.cn "
            "(with the proxy's path prefix, if any); webhook signatures are checked against it"
        ),
    )

    # Sending through Twilio (notifications/twilio_transport.py). The sender is a number (calls
    # need one) or a Messaging Service (MG…), which SMS go through when it is set.
    twilio_from_number: str | None = Field(
        default=None,
        validation_alias=AliasChoices("TWILIO_FROM_NUMBER", "ARREARS_TWILIO_FROM_NUMBER"),
        description="E.164 number that SMS and calls are sent from",
    )
    twilio_messaging_service_sid: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "TWILIO_MESSAGING_SERVICE_SID", "ARREARS_TWILIO_MESSAGING_SERVICE_SID"
        ),
        description="Messaging Service that SMS are sent through (preferred over the number)",
    )
    twilio_base_url: str = Field(
        default=TWILIO_API_URL,
        description="where the Twilio client sends its requests: another server for tests, staging",
    )
    twilio_timeout: float = Field(
        default=10.0, gt=0, description="seconds to connect, and to wait for each answer"
    )
    twilio_proxy_url: str | None = Field(
        default=None,
        description=(
            "HTTP proxy to reach Twilio through, http://host:port (user:password@ allowed); "
            "HTTPS_PROXY and the like are not read"
        ),
    )
    sms_rate_limit: float | None = Field(
        default=None,
        ge=0,
        description="messages per second from this process for the account; 0 or unset: no limit",
    )
    sms_retry_attempts: int = Field(
        default=5, ge=1, description="HTTP requests per message at most, retries included"
    )
    sms_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="SMS and call requests in flight at once from one worker (each waits for "
        "the provider's answer; the rate limit still applies)",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="signs the web app's session cookies (at least 32 random characters); "
        "unset: a random key generated once and kept in data_dir/secret_key",
    )
    full_review_weekday: int | None = Field(
        default=6,
        ge=0,
        le=6,
        description="the night of the week (0 Monday … 6 Sunday) on which every open case is "
        "decided, not only those due for review; unset: only when the policy or calendar changed",
    )

    @field_validator("secret_key", mode="before")
    @classmethod
    def _real_secret(cls, value: object) -> object:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        if isinstance(raw, str):
            check_secret_key(raw.strip())
            return SecretStr(raw.strip())
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone name
        return value

    @field_validator("public_base_url")
    @classmethod
    def _absolute_base_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError("must be an absolute URL such as https://arrears.example.gov.cn")
        if parts.query or parts.fragment:
            raise ValueError("must not carry a query string or fragment")
        return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))

    @field_validator(
        "twilio_from_number",
        "twilio_messaging_service_sid",
        "twilio_proxy_url",
        "sms_rate_limit",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip() or None
        return value

    @field_validator("twilio_base_url", mode="before")
    @classmethod
    def _twilio_base_url(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return TWILIO_API_URL
        if not isinstance(value, str):
            return value
        parts = urlsplit(value.strip())
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError("must be an absolute URL such as https://api.twilio.com")
        if parts.query or parts.fragment:
            raise ValueError("must not carry a query string or fragment")
        return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))

    @field_validator("twilio_proxy_url")
    @classmethod
    def _http_proxy(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
            raise ValueError("must be an HTTP proxy URL such as http://proxy.internal:3128")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'arrears.sqlite3').resolve()}"


MIN_SECRET_KEY_LENGTH = 32
_PLACEHOLDERS = ("changeme", "change-me", "change_me", "changethis", "placeholder", "secretkey")


def check_secret_key(key: str) -> None:
    """Refuse a key that is obviously not random: short, a placeholder, or of few characters."""
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise ValueError(
            f"must be at least {MIN_SECRET_KEY_LENGTH} characters; generate one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    folded = key.lower().replace(" ", "")
    if any(word in folded for word in _PLACEHOLDERS) or len(set(key)) < 10:
        raise ValueError(
            "looks like a placeholder, not a random key; generate one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )


def normalise_database_url(url: str) -> str:
    """Accept the plain ``postgresql://`` form people copy from psql; use the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
