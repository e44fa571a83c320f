"""Settings: read once from the environment and ``.env`` in ``main()``, validated, then passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class SettingsError(Exception):
    """A setting is missing or wrong; the message names it and says what is expected."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True)

    database_path: Path = Field(default=Path("studybot.db"), description="SQLite file")
    default_course: str | None = Field(default=None, description="course created at start and used by CLI")
    default_language: Literal["zh", "en"] = "zh"
    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = Field(default="https://api.telegram.org", pattern=r"^https?://[^\s]+$")
    telegram_poll_timeout: int = Field(default=30, ge=0, le=50)
    telegram_webhook_url: str | None = Field(default=None, pattern=r"^https://[^\s]+$")
    telegram_webhook_secret: SecretStr | None = None
    telegram_webhook_listen: str = Field(default="0.0.0.0:8443", pattern=r"^[^\s:]*:\d{1,5}$")
    discord_bot_token: SecretStr | None = None
    log_level: LogLevel = "INFO"
    console_user: str = Field(default="you", min_length=1, max_length=64)
    empty_digest: Literal["skip", "note"] = "note"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("default_language", "empty_digest", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.telegram_webhook_url and self.telegram_webhook_secret is None:
            raise ValueError(
                "TELEGRAM_WEBHOOK_SECRET must be set with TELEGRAM_WEBHOOK_URL (1-256 of A-Z a-z 0-9 _ -), "
                "so that nobody but Telegram can post updates to the webhook"
            )
        return self

    @field_validator(
        "default_course",
        "telegram_bot_token",
        "discord_bot_token",
        "telegram_webhook_url",
        "telegram_webhook_secret",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("default_course")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        if value is not None and (not value.replace("-", "").replace("_", "").isalnum() or len(value) > 64):
            raise ValueError("use letters, digits, '-' and '_' only (at most 64), e.g. ai-systems")
        return value


def load_settings(env_file: str | Path | None = ".env") -> Settings:
    """Build the settings or raise :class:`SettingsError` naming every bad one."""
    try:
        return Settings(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as error:
        problems = []
        for item in error.errors():
            name = str(item["loc"][0]).upper() if item["loc"] else "?"
            problems.append(f"{name}: {item['msg']} (got {item.get('input')!r})")
        raise SettingsError("invalid setting " + "; ".join(problems)) from None
