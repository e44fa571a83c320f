"""Links to messages are made when content is sent, by the platform of the message linked to."""

from __future__ import annotations

import io

from bot.console import ConsoleBackend
from bot.discord_backend.backend import DiscordBackend, DiscordOptions
from bot.outbox import RoutingOutbox, with_links
from handlers.i18n import Translator
from handlers.vocabulary.actions import DirectMessage, Post
from handlers.vocabulary.content import ContentBuilder
from handlers.vocabulary.domain import ChatRef, MessageRef
from tests.clock import TestClock


def test_a_discord_link_uses_the_guild_kept_with_the_post_without_any_cache() -> None:
    # never connected: no channel cache
    backend = DiscordBackend(DiscordOptions(token="t"), Translator.load("en"), TestClock())
    kept = MessageRef("discord", "10", "20", "30", guild_id="99")
    assert backend.link_to(kept) == "https://discord.com/channels/99/30/20"
    assert backend.link_to(MessageRef("discord", "10", "20")) is None  # stored before guilds were kept, no cache


async def test_the_outbox_links_each_message_by_its_own_platform_when_it_sends() -> None:
    out = io.StringIO()
    console = ConsoleBackend(out, TestClock())
    discord = DiscordBackend(DiscordOptions(token="t"), Translator.load("en"), TestClock())
    outbox = RoutingOutbox({"console": console, "discord": discord})
    on_discord = MessageRef("discord", "10", "20", None, guild_id="99")
    on_nothing = MessageRef("telegram", "-1", "5")  # no Telegram backend here: the text stays, unlinked
    content = ContentBuilder().message_link("open", on_discord).text(" ").message_link("other", on_nothing).build()
    action = DirectMessage("console", "ann", content)
    linked = with_links(action, outbox.link_to)
    assert [(span.text, span.url, span.ref) for span in linked.content] == [
        ("open", "https://discord.com/channels/99/10/20", None),
        (" ", None, None),
        ("other", None, None),
    ]
    await outbox.send(action)
    assert "open <https://discord.com/channels/99/10/20> other" in out.getvalue()
    plain = Post(ChatRef("console", "c"), ContentBuilder().text("no links").build())
    assert with_links(plain, outbox.link_to) is plain
