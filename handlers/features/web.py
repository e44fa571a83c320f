"""``/web``: the course's questions on a web page (issue 17).

An instructor sends ``/web`` in a private chat and gets a signed link for a few hours (a link in a group would
log in whoever clicks it). An admin (or the course's instructor) in a group that follows a course makes the
course's read-only share link with ``/web share`` and turns it off with ``/web share off``.
"""

from __future__ import annotations

import logging

from handlers.routing import CommandContext, Router
from handlers.vocabulary.errors import NotPermitted, UsageError

logger = logging.getLogger(__name__)

router = Router("web")


@router.command("web")
async def cmd_web(ctx: CommandContext) -> None:
    links = ctx.services.web_links
    if links is None:
        raise UsageError("web.not_served")
    action = " ".join(ctx.event.args.split()).lower()
    store = ctx.services.store
    actor = ctx.event.actor
    their_courses = await store.instructor_courses(actor.platform, actor.user_id)
    if action == "":
        if not ctx.event.private:
            raise UsageError("web.private_only")
        if not their_courses:
            raise NotPermitted("web.not_instructor")
        link = await links.login_link(actor, ctx.event.ref.chat_id)
        await ctx.reply(ctx.t("web.link", link=link, hours=4), ephemeral=True)
        return
    if action not in ("share", "share off"):
        raise UsageError("web.usage")
    slug = ctx.course_slug()
    if not (ctx.event.actor_is_admin or slug in their_courses):
        raise NotPermitted("web.share_not_allowed")
    if action == "share off":
        had = await links.revoke_share(slug)
        await ctx.reply(ctx.t("web.share_off" if had else "web.share_none", course=slug))
        return
    await ctx.reply(ctx.t("web.share_link", course=slug, link=await links.share_link(slug)), ephemeral=True)
