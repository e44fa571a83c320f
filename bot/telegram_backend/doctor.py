"""``studybot doctor`` for Telegram: can the bot do its job in every group that follows a course?

Each check says what is wrong and what to do about it, in the words of Telegram's own settings.
"""

from __future__ import annotations

from telegram import (
    Bot,
    ChatMemberAdministrator,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberOwner,
    ChatMemberRestricted,
)
from telegram.constants import ChatAction
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError

from bot.config import Settings
from bot.telegram_backend.backend import api_base_url
from handlers.ports import Store

PLATFORM = "telegram"


async def telegram_checks(bot: Bot, store: Store) -> list[str]:
    """Lines starting with ✓ (fine), ⚠ (works partly) or ✗ (broken), each with the fix."""
    try:
        await bot.initialize()
        me = await bot.get_me()
    except InvalidToken:
        return ["✗ Telegram refused TELEGRAM_BOT_TOKEN: copy it again from @BotFather"]
    except NetworkError as error:
        return [f"✗ cannot reach the Telegram Bot API ({error}); check the network or TELEGRAM_API_BASE_URL"]
    try:
        return await _checks(bot, me.id, me.username or str(me.id), store)
    finally:
        await bot.shutdown()


async def _checks(bot: Bot, bot_id: int, username: str, store: Store) -> list[str]:
    lines = [f"✓ token valid: @{username}"]
    for course in await store.list_courses():
        for group in await store.groups_following(course.slug):
            if group.chat.platform != PLATFORM:
                continue
            lines.append(await _group_line(bot, bot_id, int(group.chat.chat_id), group.title or group.chat.chat_id))
        for instructor in await store.instructors(course.slug):
            if instructor.platform != PLATFORM:
                continue
            try:
                await bot.send_chat_action(int(instructor.user_id), ChatAction.TYPING)
                lines.append(f"✓ instructor {instructor.display_name} ({course.slug}) can receive digests")
            except (Forbidden, BadRequest):
                lines.append(
                    f"✗ instructor {instructor.display_name} ({course.slug}) never opened a private chat with "
                    f"the bot: they must open https://t.me/{username} and press Start"
                )
    return lines


async def _group_line(bot: Bot, bot_id: int, chat_id: int, title: str) -> str:
    try:
        status = await bot.get_chat_member(chat_id, bot_id)
    except (Forbidden, BadRequest) as error:
        return f"✗ {title}: the bot was removed ({error.message}); add it again and run /setup"
    if isinstance(status, ChatMemberLeft | ChatMemberBanned):
        return f"✗ {title}: the bot was removed (it is {status.status}); add it again and run /setup"
    if isinstance(status, ChatMemberRestricted) and not status.can_send_messages:
        return f"✗ {title}: the bot may not post here; allow it to send messages"
    if not isinstance(status, ChatMemberAdministrator | ChatMemberOwner):
        return (
            f"⚠ {title}: the bot is not an admin, so it sees no reactions (likes) and, in privacy mode, only "
            "commands and replies; make it an admin"
        )
    return f"✓ {title}: admin, can post, sees reactions and messages"


async def check_telegram(settings: Settings, store: Store) -> list[str]:
    """The Telegram section of ``studybot doctor``."""
    if settings.telegram_bot_token is None:
        return ["- telegram: TELEGRAM_BOT_TOKEN is not set (skipped)"]
    bot = Bot(settings.telegram_bot_token.get_secret_value(), base_url=api_base_url(settings.telegram_api_base_url))
    return [f"{line[0]} telegram: {line[2:]}" for line in await telegram_checks(bot, store)]
