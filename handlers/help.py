"""/help: every command with its translated one-line description, admin ones marked."""

from __future__ import annotations

from handlers.content import ContentBuilder
from handlers.routing import CommandContext, Router

router = Router("help")

# The order a newcomer reads them in: what learners use first, configuration after.
ORDER = (
    "ask",
    "top",
    "stats",
    "help",
    "answer",
    "digest",
    "merge",
    "split",
    "setup",
    "lesson",
    "instructor",
    "schedule",
    "likes",
    "lang",
    "dupes",
    "unfollow",
)


@router.command("start", help_key="help.start")
async def cmd_start(ctx: CommandContext) -> None:
    """What a private chat with the bot begins with (Telegram's Start button sends /start)."""
    await ctx.reply(ctx.t("start.welcome"))
    await cmd_help(ctx)


@router.command("help", help_key="help.help")
async def cmd_help(ctx: CommandContext) -> None:
    out = ContentBuilder().bold(ctx.t("help.heading")).line()
    names = sorted(ctx.commands, key=lambda name: (ORDER.index(name) if name in ORDER else len(ORDER), name))
    for name in names:
        spec = ctx.commands[name]
        out.text(ctx.t(spec.help_key))
        if spec.admin_only:
            out.text(" ").text(ctx.t("help.admin_mark"))
        out.line()
    await ctx.reply(out.build())
