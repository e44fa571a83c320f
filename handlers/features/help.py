"""/help: the commands of the platform it is asked on, with their translated one-line descriptions, admin ones
marked, in the catalogue's order (:mod:`handlers.vocabulary.catalogue`)."""

from __future__ import annotations

from handlers.routing import CommandContext, Router
from handlers.vocabulary.catalogue import COMMANDS
from handlers.vocabulary.content import ContentBuilder

router = Router("help")


@router.command("start")
async def cmd_start(ctx: CommandContext) -> None:
    """What a private chat with the bot begins with (Telegram's Start button sends /start)."""
    await ctx.reply(ctx.t("start.welcome"))
    await cmd_help(ctx)


@router.command("help")
async def cmd_help(ctx: CommandContext) -> None:
    out = ContentBuilder().bold(ctx.t("help.heading")).line()
    platform = ctx.event.ref.platform
    for command in COMMANDS:
        if command.name not in ctx.commands or not command.on(platform):
            continue  # a command no router answers here is not offered
        out.text(ctx.t(command.help_key))
        if command.refuses_non_admins:
            out.text(" ").text(ctx.t("help.admin_mark"))
        out.line()
    await ctx.reply(out.build())
