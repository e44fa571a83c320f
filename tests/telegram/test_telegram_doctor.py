"""`studybot doctor` for Telegram: each problem named with what to do."""

from __future__ import annotations

from pydantic import SecretStr
from telegram import Bot

from bot.config import Settings
from bot.telegram_backend.doctor import check_telegram, telegram_checks
from handlers.vocabulary.domain import ChatRef, Course, Instructor
from tests.scenarios.stories import COURSE
from tests.telegram.harness import TOKEN, TelegramHarness


async def test_doctor_reports_each_group_and_instructor(telegram: TelegramHarness) -> None:
    tg, store = telegram.tg, telegram.app.store
    await store.upsert_course(Course(COURSE, "AI"), telegram.clock.now())
    fine = telegram.chat
    no_admin = tg.add_chat("supergroup", "Not admin here")
    kicked = tg.add_chat("supergroup", "Kicked us")
    tg.kick_bot(kicked)
    for chat in (fine, no_admin, kicked):
        await store.setup_group(ChatRef("telegram", str(chat["id"])), chat["title"], COURSE, "en")
    started = tg.add_user("Started")
    tg.start_private(started)
    silent = tg.add_user("Silent")
    for user in (started, silent):
        await store.add_instructor(Instructor(COURSE, "telegram", str(user["id"]), user["first_name"]))
    await telegram.settle()

    lines = await telegram_checks(Bot(TOKEN, base_url=tg.base_url), store)
    report = "\n".join(lines)
    assert f"✓ token valid: @{tg.bot_username}" in report
    assert "✓ AI study group: admin, can post" in report
    assert "⚠ Not admin here: the bot is not an admin" in report and "make it an admin" in report
    assert "✗ Kicked us: the bot was removed" in report and "add it again and run /setup" in report
    assert "✓ instructor Started (ai-systems) can receive digests" in report
    assert "✗ instructor Silent (ai-systems) never opened a private chat" in report


async def test_doctor_with_a_refused_token(telegram: TelegramHarness) -> None:
    bot = Bot("999:wrong-token-for-the-local-server-xxxxxxxx", base_url=telegram.tg.base_url)
    lines = await telegram_checks(bot, telegram.app.store)
    assert lines == ["✗ Telegram refused TELEGRAM_BOT_TOKEN: copy it again from @BotFather"]


async def test_doctor_section_from_the_settings(telegram: TelegramHarness, settings: Settings) -> None:
    configured = settings.model_copy(
        update={
            "telegram_bot_token": SecretStr(TOKEN),
            "telegram_api_base_url": telegram.tg.base_url.removesuffix("/bot"),
        }
    )
    lines = await check_telegram(configured, telegram.app.store)
    assert lines[0] == f"✓ telegram: token valid: @{telegram.tg.bot_username}"
    assert await check_telegram(settings, telegram.app.store) == ["- telegram: TELEGRAM_BOT_TOKEN is not set (skipped)"]
