"""Settings: read once from the environment and ``.env`` in ``main()``, validated, then passed down."""

from __future__ import annotations

import difflib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from handlers.vocabulary.domain import course_slug_problem

if TYPE_CHECKING:
    from storage.locations import Database

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


@dataclass(frozen=True, slots=True)
class FeedSource:
    """One RSS/Atom feed whose entries become lessons of ``course``."""

    course: str
    url: str


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
        if (problem := course_slug_problem(course)) is not None:
            raise ValueError(f"course {course!r}: {problem}")
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
    # PostgreSQL instead of the SQLite file (issue 13): postgresql://user:password@host:5432/name
    database_url: SecretStr | None = Field(default=None, description="postgresql://… (instead of DATABASE_PATH)")
    database_pool_size: int = Field(default=10, ge=1, le=1000, description="PostgreSQL connections per process")
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
    # /schedule refuses expressions whose digests would come closer together than this (a week at most).
    min_digest_interval_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    # Lessons the scheduler posts to one group in an hour at most; more wait for the next hour (a safety net).
    lesson_posts_per_hour: int = Field(default=3, ge=1, le=100)
    # Lesson sources (issue 6). FEEDS stays a string here (pydantic-settings would try to JSON-decode a list
    # from the environment); it is validated below and read through feed_sources().
    lessons_dir: Path | None = Field(default=None, description="folder of lesson files scanned on a schedule")
    feeds: str = Field(default="", description="course=url,… or JSON; RSS 2.0 / Atom feeds polled for lessons")
    feed_poll_minutes: int = Field(default=15, ge=1, le=1440)
    intro_length: int = Field(default=600, ge=100, le=3500)
    # The web page (issue 17): host:port it listens on, behind the user's own proxy; the secret signing its links
    # (made and kept in the database on first use when unset).
    web_listen: str = Field(default="127.0.0.1:8080", pattern=r"^[^\s:]+:\d{1,5}$", description="host:port")
    web_secret: SecretStr | None = None
    web_base_url: str = Field(default="", pattern=r"^(https?://[^\s]+)?$", description="public address behind a proxy")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("default_language", "empty_digest", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_database(self) -> Settings:
        if self.database_url is not None:
            if "database_path" in self.model_fields_set:
                raise ValueError(
                    "DATABASE_URL and DATABASE_PATH are both set: keep one (DATABASE_PATH for an SQLite file, "
                    "DATABASE_URL for PostgreSQL); to move the data across use `studybot db copy`"
                )
        return self

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from storage.locations import Database  # (storage is not imported for --help: issue 14)

            Database.parse(value.get_secret_value())
        return value

    def database(self) -> Database:
        """The store this process uses: DATABASE_URL when set, else the SQLite file at DATABASE_PATH."""
        from storage.locations import Database

        if self.database_url is not None:
            return Database.parse(self.database_url.get_secret_value())
        return Database.sqlite(self.database_path)

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
        "web_secret",
        "database_url",
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

    def secret_values(self) -> tuple[str, ...]:
        """The values that must never be printed or logged (see :mod:`bot.redact`)."""
        secrets = (self.telegram_bot_token, self.discord_bot_token, self.telegram_webhook_secret, self.web_secret)
        values = [secret.get_secret_value() for secret in secrets if secret is not None]
        if self.database_url is not None:  # the URL's password; the rest of the URL may be shown
            password = urlsplit(self.database_url.get_secret_value()).password
            if password:
                values.append(password)
        return tuple(values)

    @field_validator("web_listen")
    @classmethod
    def _web_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not 0 < int(port) < 65536:
            raise ValueError("WEB_LISTEN must be host:port with a port from 1 to 65535, e.g. 127.0.0.1:8080")
        return value

    def web_url(self) -> str:
        """The address in the page's links: WEB_BASE_URL behind a proxy, else http://WEB_LISTEN."""
        return self.web_base_url or f"http://{self.web_listen}"

    def web_address(self) -> tuple[str, int]:
        host, _, port = self.web_listen.rpartition(":")
        return host, int(port)

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
        if value is not None and (problem := course_slug_problem(value)) is not None:
            raise ValueError(problem)
        return value


def load_settings(env_file: str | Path | None = ".env") -> Settings:
    """Build the settings or raise :class:`SettingsError` naming every bad one, and where to fix it.

    ``env_file`` may be missing (it is optional); one that is there must be UTF-8, which is checked here so that
    a file saved in another encoding is named instead of ending in pydantic-settings' UnicodeDecodeError.
    """
    if env_file is not None:
        read_env_file(Path(env_file))
    where = f"the environment or {env_file}" if env_file is not None else "the environment"
    try:
        return Settings(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as error:
        problems = []
        secret = {name for name, field in Settings.model_fields.items() if "SecretStr" in str(field.annotation)}
        for item in error.errors():
            if not item["loc"]:  # a rule across settings: its message names them (its input is every setting)
                problems.append(str(item["msg"]).removeprefix("Value error, "))
                continue
            field = str(item["loc"][0])
            shown = "" if field in secret else f" (got {item.get('input')!r})"  # never echo a secret
            problems.append(f"{field.upper()}: {item['msg']}{shown}")
        raise SettingsError("invalid setting " + "; ".join(problems) + f". Fix it in {where}.") from None


def read_env_file(path: Path) -> dict[str, str | None]:
    """The names and values in a settings file (empty when there is none); SettingsError if it is unreadable."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise SettingsError(f"cannot read {path}: {error.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise SettingsError(
            f"{path} is not UTF-8 text (byte 0x{raw[error.start]:02x} on line {line}); save it as UTF-8"
        ) from None
    return dotenv_values(stream=io.StringIO(text))


# Environment variables that look meant for studybot: prefixes of its settings that other programs hardly use.
# Names under the common prefixes (DEFAULT_, LOG_) are only questioned when they are very close to a setting.
_OUR_PREFIXES = (
    "STUDYBOT_",
    "TELEGRAM_",
    "DISCORD_",
    "DATABASE",
    "LESSON",
    "FEED",
    "CONSOLE_",
    "INTRO_",
    "EMPTY_DIGEST",
    "MIN_DIGEST",
    "DIGEST_",
)
_COMMON_PREFIXES = ("DEFAULT_", "LOG_")
_VERY_CLOSE = 0.85


def unknown_settings(env_file: str | Path | None, environ: Mapping[str, str]) -> list[str]:
    """Warnings for names that look like misspelt settings, each with the closest real one.

    pydantic-settings ignores names it does not know, so ``TELEGRAM_TOKEN=…`` would leave the bot without a
    token and without a word. Every unknown name in the settings file is questioned (the file is studybot's);
    in the environment, only names that look meant for studybot (see the prefixes above).
    """
    known = sorted(name.upper() for name in Settings.model_fields)
    warnings: list[str] = []

    def question(name: str, where: str, *, only_if_close: bool = False) -> None:
        close = difflib.get_close_matches(name, known, n=1, cutoff=_VERY_CLOSE if only_if_close else 0.6)
        if not close and only_if_close:
            return
        hint = f"; did you mean {close[0]}?" if close else "; see .env.example for every setting"
        warnings.append(f"{name} in {where} is not a studybot setting (ignored){hint}")

    if env_file is not None:
        for name in read_env_file(Path(env_file)):
            if name.upper() not in known:
                question(name.upper(), str(env_file))
    for name in sorted(environ):
        upper = name.upper()
        if upper in known:
            continue
        if upper.startswith(_OUR_PREFIXES):
            question(upper, "the environment")
        elif upper.startswith(_COMMON_PREFIXES):
            question(upper, "the environment", only_if_close=True)
    return warnings
