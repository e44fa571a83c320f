"""A local stand-in for the Telegram Bot API, for driving the *real* python-telegram-bot.

Why this exists: studybot's Telegram backend must be tested end to end (updates in, method
calls out, parse errors, flood control, kicked bots, migrated groups, forum topics) without
contacting Telegram.  Mocking ``telegram.Bot`` would only test our assumptions about
python-telegram-bot (PTB); speaking the HTTP protocol of the public Bot API documentation
(https://core.telegram.org/bots/api) tests the adapter against the library as it really
behaves.  Everything listens on 127.0.0.1 only and webhooks are only delivered to loopback.

Pointing PTB at the fake
------------------------
PTB builds every URL as ``f"{base_url}{token}/{method}"``, so one setting is enough::

    async with FakeTelegram(clock=TestClock()) as tg:
        alice = tg.add_user("Alice", username="alice")
        group = tg.add_chat("supergroup", "Course", is_forum=True)
        tg.add_member(group, alice)
        tg.set_bot_admin(group, True)                    # -> my_chat_member update
        app = ApplicationBuilder().token(tg.token).base_url(tg.base_url).build()
        ...                                              # handlers, initialize, start
        await app.updater.start_polling(timeout=1)
        tg.user_sends(group, alice, "/lesson@" + tg.bot_username)
        await tg.wait_for(lambda t: t.last_sent(group) is not None)
        assert "Lesson" in tg.last_sent(group)["text"]

Test-control methods that create inbound activity (``user_sends``, ``user_reacts``, ...) are
plain synchronous methods: each creates the Update at once, with the next ``update_id``, and
hands it to the pending long poll (or to the webhook sender).  Only :meth:`wait_for` is async:
it waits on an ``asyncio.Condition`` that is notified after every state change.

What PTB 22 needs that is easy to miss
--------------------------------------
* PTB posts ``application/x-www-form-urlencoded`` (``multipart/form-data`` only with files);
  every non-string value arrives as a JSON *string* (``chat_id="123"``,
  ``reply_parameters='{"message_id": 3}'``, ``allowed_updates='["message"]'``).  The Bot API
  itself accepts that ("Making requests"), so each method coerces its parameters by type.
* PTB maps HTTP statuses to exceptions, not ``error_code``: 400 BadRequest, 401/404
  InvalidToken, 403 Forbidden, 409 Conflict, anything else NetworkError -- and it raises
  ChatMigrated/RetryAfter whenever ``parameters.migrate_to_chat_id``/``retry_after`` is
  present, before looking at the status.  It strips the ``"Bad Request: "`` prefix and then
  ``str.capitalize()``s the rest, so ``"Bad Request: can't parse entities: Unsupported start
  tag ..."`` reaches Python as ``"Can't parse entities: unsupported start tag ..."`` -- match
  error texts case-insensitively ("Forbidden: ..." texts are left as they are).
* ``getChat`` must return a full ``ChatFullInfo``: PTB 22 requires ``accent_color_id``,
  ``max_reaction_count`` and ``accepted_gift_types``.  ``ChatMemberAdministrator`` requires
  every ``can_*`` right that the Bot API marks as non-optional, stories rights included.
* ``Updater.start_polling`` first calls ``deleteWebhook``; on ``stop()`` it *cancels* the
  running long poll (the HTTP request is dropped, the server side keeps waiting) and then
  calls ``getUpdates(offset=last+1, timeout=0)`` once to confirm what it fetched.  The fake
  answers a superseded long poll with 409, as Telegram does.
* ``Message`` needs ``message_id``, ``date`` (Unix time) and ``chat``; ``User`` needs
  ``id``, ``is_bot`` and ``first_name``; ``Chat`` needs ``id`` and ``type``.

Telegram behaviours an adapter must cope with (the fake reproduces them)
------------------------------------------------------------------------
* Message text is trimmed of leading/trailing white space, must be 1-4096 *code points*
  after parsing (entity offsets are UTF-16 units, the length limit is not), and gets
  automatically detected entities (bot_command, mention, hashtag, url, ...).
* In a forum topic, a message that replies to nothing has ``reply_to_message`` = the topic's
  ``forum_topic_created`` service message; in an ordinary supergroup, replies carry
  ``message_thread_id`` (the thread's first message) -- only ``is_topic_message`` means "topic".
* Service messages and ``my_chat_member`` always reach the bot; ``chat_member``,
  ``message_reaction`` and ``message_reaction_count`` only to an administrator that asked for
  them by name in ``allowed_updates``, which applies when an update is *created*.

Deliberate deviations (each documented where it is implemented)
---------------------------------------------------------------
* Only HTML formatting is modelled (studybot sends HTML): ``parse_mode`` Markdown or MarkdownV2 answers 500
  "FakeTelegram does not model ..." and is kept in ``server_errors``, so a test that starts using them fails
  loudly instead of passing against a parser nobody checked.
* Methods studybot does not call were cut with their self-tests (callback queries, setMessageReaction,
  editForumTopic, deleteForumTopic): like any method the fake lacks, they answer 404 and are recorded.
* ``strict_html=True`` (the default) rejects a bare ``&`` or ``>`` and unsupported named
  entities, because "Formatting options" says all ``<``, ``>`` and ``&`` that are not part
  of a tag or an entity *must* be replaced.  Real Telegram (tdlib's ``parse_html``) keeps
  them as literal text; ``strict_html=False`` reproduces that exactly.  Errors for ``<`` are
  the same in both modes because they are what Telegram answers.
* ``setWebhook`` accepts plain ``http://`` on loopback addresses (Telegram requires HTTPS
  on ports 443/80/88/8443) and refuses any non-loopback URL so nothing leaves the machine.
* Updates are delivered to a webhook one at a time, in order, unless a test asks for
  ``webhook_connections`` > 1: then up to that many (and at most ``max_connections``) at once,
  each on a new connection, in no guaranteed order.  ``webhook_tls_proxy=True`` stands for a
  TLS-terminating proxy: an ``https://`` webhook URL on loopback is delivered by plain HTTP.
  ``redeliver(update_id)`` sends a delivered update again, as Telegram does when the answer
  did not reach it in time.
* Auto-detected entities (url, email, mention, hashtag, cashtag, bot_command) follow
  tdlib's rules closely but not exactly (URL detection needs a scheme, ``www.`` or
  ``t.me/``; no phone numbers or bank cards).
* Methods the fake does not implement answer 404 "Not Found" (PTB: InvalidToken), exactly
  what Telegram answers for unknown methods; each is recorded in ``unknown_methods``.  An
  exception inside the fake answers 500 "FakeTelegram bug: ..." and is kept in
  ``server_errors`` (assert it is empty at the end of a test).
* "Privacy mode": a general ``/command`` (without ``@bot``) always reaches the bot; Telegram
  delivers it only if this bot was the last bot to write in the group (the fake has no other
  bots).  ``text_mention`` entities are only produced for users the fake knows.
* :class:`RateLimits` counts ``sendMessage`` calls only.
* There is no "message deleted" update in the Bot API, so deleting a message as a user
  only changes state (:meth:`user_deletes`); nothing is delivered.

How the package is laid out
---------------------------
``server`` holds :class:`FakeTelegram` (construction, lifecycle, JSON shapes) and mixes in one module per
concern: ``world`` (users, chats, membership), ``activity`` (people's acts, inspection), ``updates``
(allowed_updates, privacy mode, long polling, webhooks), ``transport`` (HTTP, injected failures, rate limits),
``messages`` and ``chats`` (the Bot API methods by family).  ``model`` is the vocabulary and state types,
``entities`` and ``html_format`` the text rules.  Each is small enough to read against the documentation.

Documentation sections referred to in comments: "Making requests", "Getting updates"
(getUpdates, setWebhook, Update), "Available types" (Message, MessageEntity, ChatMember...),
"Formatting options", "Updating messages", "Bot commands" (BotCommandScope), "Forum topics",
"Reactions" (MessageReactionUpdated), "ResponseParameters", and the FAQ
"My bot is hitting limits" and features page "Privacy mode".
"""

from tests.fakes.telegram_api.entities import ParseError, find_auto_entities, fix_formatted_text, utf16_len
from tests.fakes.telegram_api.html_format import parse_html
from tests.fakes.telegram_api.model import (
    ALL_UPDATE_TYPES,
    DEFAULT_ADMIN_RIGHTS,
    ApiError,
    FloodRecord,
    RateLimits,
    RecordedRequest,
    WebhookDelivery,
)
from tests.fakes.telegram_api.server import FakeTelegram

__all__ = [
    "ALL_UPDATE_TYPES",
    "DEFAULT_ADMIN_RIGHTS",
    "ApiError",
    "FakeTelegram",
    "FloodRecord",
    "ParseError",
    "RateLimits",
    "RecordedRequest",
    "WebhookDelivery",
    "find_auto_entities",
    "fix_formatted_text",
    "parse_html",
    "utf16_len",
]
