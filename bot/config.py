"""Settings: read once from the environment and ``.env`` in ``main()``, validated, then passed down."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


@dataclass(frozen=True, slots=True)
class FeedSource:
    """One RSS/Atom feed whose entries become lessons of ``course``."""

    course: str
    url: str


def _is_slug(value: str) -> bool:
    return bool(value) and value.replace("-", "").replace("_", "").isalnum() and len(value) <= 64


def parse_feeds(value: str) -> tuple[FeedSource, ...]:
    """``FEEDS``: ``course=url,course=url2,other=url3`` or JSON ``{"course": "url" or ["url", …]}``.

    Raises ValueError saying what is wrong with which item.
    """
    value = value.strip()
    pairs: list[tuple[str, str]] = []
    if not value:
        return ()
    if value.startswith("{"):
        try:
            data = json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(f"not valid JSON ({error.msg} at character {error.pos})") from None
        if not isinstance(data, dict):
            raise ValueError('JSON must be an object like {"course": "https://…/feed.xml"}')
        for course, urls in data.items():
            for url in [urls] if isinstance(urls, str) else urls if isinstance(urls, list) else [None]:
                if not isinstance(url, str):
                    raise ValueError(f"course {course!r}: give a URL or a list of URLs")
                pairs.append((course, url))
    else:
        for item in value.split(","):
            course, sep, url = item.partition("=")
            if not sep:
                raise ValueError(f"{item.strip()!r} is not course=url (e.g. ai-systems=https://example.com/feed.xml)")
            pairs.append((course, url))
    feeds: list[FeedSource] = []
    for course, url in pairs:
        course, url = course.strip(), url.strip()
        if not _is_slug(course):
            raise ValueError(f"course {course!r}: use letters, digits, '-' and '_' only (at most 64)")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{url!r} (course {course}) is not an http(s) URL")
        if FeedSource(course, url) not in feeds:
            feeds.append(FeedSource(course, url))
    return tuple(feeds)


def parse_shard_ids(value: str) -> tuple[int, ...]:
    """``DISCORD_SHARD_IDS``: ``0,1,2`` (empty: every shard); raises ValueError naming the bad item."""
    ids: list[int] = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        if not item.isdigit():
            raise ValueError(f"{item!r} is not a shard id; use numbers like 0,1")
        if int(item) not in ids:
            ids.append(int(item))
    return tuple(ids)


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
    # discord: a REST proxy shared by several processes (rate limits), sharding, catch-up window after downtime
    discord_api_base_url: str = Field(default="https://discord.com/api/v10", pattern=r"^https?://[^\s]+$")
    discord_shard_count: int | None = Field(default=None, ge=1, le=100_000)
    discord_shard_ids: str = Field(default="", description="comma-separated shard ids this process runs, e.g. 0,1")
    discord_reconcile_days: int = Field(default=14, ge=0, le=365)
    # discord: seconds start-up (login, then the gateway's READY) may take before it gives up saying why
    discord_connect_timeout: float = Field(default=30.0, gt=0, le=3600)
    log_level: LogLevel = "INFO"
    console_user: str = Field(default="you", min_length=1, max_length=64)
    empty_digest: Literal["skip", "note"] = "note"
    # Lesson sources (issue 6). FEEDS stays a string here (pydantic-settings would try to JSON-decode a list
    # from the environment); it is validated below and read through feed_sources().
    lessons_dir: Path | None = Field(default=None, description="folder of lesson files scanned on a schedule")
    feeds: str = Field(default="", description="course=url,… or JSON; RSS 2.0 / Atom feeds polled for lessons")
    feed_poll_minutes: int = Field(default=15, ge=1, le=1440)
    intro_length: int = Field(default=600, ge=100, le=3500)

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

    @field_validator("lessons_dir", mode="before")
    @classmethod
    def _empty_path_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("lessons_dir")
    @classmethod
    def _existing_folder(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"{value} is not a folder")
        return value

    @field_validator("feeds")
    @classmethod
    def _feeds(cls, value: str) -> str:
        parse_feeds(value)
        return value.strip()

    def feed_sources(self) -> tuple[FeedSource, ...]:
        return parse_feeds(self.feeds)

    # discord ------------------------------------------------------------------------------------------------
    @field_validator("discord_shard_count", mode="before")
    @classmethod
    def _empty_count_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("discord_shard_ids")
    @classmethod
    def _shard_ids(cls, value: str) -> str:
        parse_shard_ids(value)
        return value.strip()

    @model_validator(mode="after")
    def _shards_fit(self) -> Settings:
        ids = parse_shard_ids(self.discord_shard_ids)
        if ids and self.discord_shard_count is None:
            raise ValueError("DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT (the total number of shards)")
        if ids and self.discord_shard_count is not None and max(ids) >= self.discord_shard_count:
            raise ValueError(f"DISCORD_SHARD_IDS must be below DISCORD_SHARD_COUNT ({self.discord_shard_count})")
        return self

    def discord_shards(self) -> tuple[int, ...] | None:
        return parse_shard_ids(self.discord_shard_ids) or None

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
