"""Issue 17 on Discord: an instructor's answer on the web page goes out exactly as their ``/answer`` does, under
the question's copy in the Discord channel, with the command's own confirmation in the instructor's DMs.

The real discord.py backend talks to the local Discord server and the page is served on 127.0.0.1 beside it in
one process over one core, as ``studybot run --web`` runs them; the page is driven over HTTP by aiohttp's client
(the browser's part is tested on Telegram in tests/web/test_browser.py).
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import AsyncIterator

import aiohttp

from bot.app import open_app
from bot.config import Settings
from bot.discord_backend.backend import DiscordBackend
from bot.web.server import start_page
from handlers.i18n import Translator
from tests.clock import TestClock
from tests.discord.harness import DiscordHarness, message_text
from tests.scenarios.notify_stories import COURSE, a_group_with_an_instructor, question_id
from tests.web.conftest import csrf_of


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def discord_with_page(settings: Settings, clock: TestClock) -> AsyncIterator[DiscordHarness]:
    """The Discord backend and the page in one process over one core, what ``studybot run --web`` runs."""
    async with DiscordHarness.server(clock) as h:
        h.backend = DiscordBackend(h.backend_options(), Translator.load(settings.default_language), clock, observer=h)
        async with open_app(settings, {h.backend.platform: h.backend}, clock, web=True) as app:
            h.app = app
            h.backend.use_ports(catalog=app.store, catch_up=app.store)
            await h.backend.start(app.dispatcher.dispatch)
            page = await start_page(settings, app)
            try:
                await app.scheduler.tick()
                yield h
            finally:
                await page.cleanup()
                await h.backend.stop()


async def test_a_page_answer_arrives_under_the_question_on_discord(settings: Settings, clock: TestClock) -> None:
    settings = settings.model_copy(update={"web_listen": f"127.0.0.1:{free_port()}"})
    async with discord_with_page(settings, clock) as h:
        post = await a_group_with_an_instructor(h)
        question = await h.say("alice", "Which GPU should I buy for the labs?", reply_to=post)
        await h.say("bob", "什么时候讲分布式训练？", reply_to=post)
        number = await question_id(h, "Which GPU")

        reply = await h.command("tyler", "/web", private=True)
        found = re.search(r"(http://127\.0\.0\.1:\d+/login\?t=[^\s)>]+)", reply)
        assert found, reply
        link = found.group(1)
        base = link.split("/login")[0]
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:  # an IP host
            async with browser.get(link) as response:
                assert response.status == 200, await response.text()
            async with browser.get(f"{base}/c/{COURSE}/q/{number}") as response:
                assert response.status == 200
                token = csrf_of(await response.text())
            async with browser.post(
                f"{base}/c/{COURSE}/q/{number}/answer", data={"csrf": token, "text": "An RTX 4090 is plenty."}
            ) as response:
                assert response.status == 200
                assert "An RTX 4090 is plenty." in await response.text()

        (answer,) = [m for m in h.bot_messages(h.general) if "An RTX 4090 is plenty." in message_text(m)]
        assert "Answer from instructor" in message_text(answer)
        assert answer.message_reference is not None
        assert int(answer.message_reference["message_id"]) == int(question.key)  # under the question's copy
        assert answer.allowed_mentions == {"parse": [], "replied_user": True}
        assert answer.mentions == [h.user("alice").id]  # the asker, through the reply, and only her
        # The command's own confirmation, in the instructor's DMs as after /answer in a DM.
        assert any("marked answered" in m for m in h.direct_messages("tyler")), h.direct_messages("tyler")
        stored = await h.app.store.get_question(int(number))
        assert stored is not None and stored.answered and stored.answer_text == "An RTX 4090 is plenty."
