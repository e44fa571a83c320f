"""Webhook mode, network trouble while sending, and links to questions."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp

from bot.app import open_app
from bot.config import Settings
from bot.telegram_backend.backend import TelegramBackend, TelegramOptions
from handlers.i18n import Translator
from tests.clock import TestClock
from tests.fakes.telegram_api import FakeTelegram
from tests.scenarios.stories import COURSE, prepare_course
from tests.telegram.harness import TOKEN, TelegramHarness, visible


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_webhook_mode_checks_the_secret_and_handles_updates(tmp_path: Path, clock: TestClock) -> None:
    settings = Settings(database_path=tmp_path / "w.db", default_language="en", _env_file=None)  # type: ignore[call-arg]
    port = free_port()
    async with FakeTelegram(TOKEN, clock=clock) as tg:
        options = TelegramOptions(
            token=TOKEN,
            api_base_url=tg.base_url.removesuffix("/bot"),
            webhook_url=f"http://127.0.0.1:{port}/telegram",
            webhook_secret="s3cret-token_value",
            webhook_listen=f"127.0.0.1:{port}",
        )
        backend = TelegramBackend(options, Translator.load("en"), clock)
        async with open_app(settings, {backend.platform: backend}, clock) as app:
            await backend.start(app.dispatcher.dispatch)
            try:
                assert tg.webhook_url == f"http://127.0.0.1:{port}/telegram"
                chat = tg.add_chat("supergroup", "Hooked")
                user = tg.add_user("Anna")
                tg.add_member(chat, user, status="administrator")
                tg.user_sends(chat, user, "/help")
                await tg.wait_for(lambda t: t.pending_updates() == 0 and bool(t.sent(chat["id"])), timeout=10)
                assert "studybot commands" in visible(tg.sent(chat["id"])[0])
                assert tg.webhook_deliveries[-1].status == 200

                async with aiohttp.ClientSession() as client:
                    forged = {"update_id": 1, "message": {"message_id": 9, "date": 0, "chat": chat, "text": "/help"}}
                    for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                        async with client.post(f"http://127.0.0.1:{port}/telegram", json=forged, headers=headers) as r:
                            assert r.status == 403
                assert len(tg.sent(chat["id"])) == 1  # the forged updates did nothing
            finally:
                await backend.stop()


async def test_network_errors_while_sending_are_retried(telegram: TelegramHarness) -> None:
    await prepare_course(telegram)
    telegram.tg.fail_next("sendMessage", status=502, times=2)
    reply = await telegram.command("anna", f"/setup {COURSE}", admin=True)
    assert "now follows" in reply


async def test_digest_links_open_the_question_in_the_supergroup(telegram: TelegramHarness) -> None:
    await prepare_course(telegram)
    await telegram.command("anna", f"/setup {COURSE}", admin=True)
    await telegram.command("tyler", "/instructor", admin=True)
    post = telegram.lesson_post("Why learn AI systems")
    question = await telegram.say("alice", "Where is the link?", reply_to=post)
    telegram.clock.advance(days=7)
    await telegram.digest_due(COURSE)
    digest = telegram.direct_messages("tyler")[-1]
    internal = str(telegram.chat["id"]).removeprefix("-100")
    assert f"https://t.me/c/{internal}/{question.key}" in digest
