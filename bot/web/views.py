"""The page's views: log in by link, the course's questions, one question, the answer form.

Every view that shows a course checks the session may see it first (an instructor's courses, or the share
link's one course) and answers 404 otherwise, the same as for a course that does not exist: nothing of another
course leaks, not even whether it exists. Learners' names are shown to instructors only.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from aiohttp import web

from bot.web.auth import LINK_LIFETIME, BadToken, Visitor
from bot.web.server import CONTEXT, SESSION_COOKIE, WebContext
from handlers.vocabulary.domain import Member, MessageRef
from handlers.vocabulary.events import CommandInvoked
from storage.web_reads import WebFilter

logger = logging.getLogger(__name__)

PERIODS = {"week": timedelta(days=7), "month": timedelta(days=30)}
MAX_ANSWER = 3500


def _ctx(request: web.Request) -> WebContext:
    return request.app[CONTEXT]


def _language(request: web.Request, course_language: str | None = None) -> str:
    """The course's language on a course's pages, else the browser's (Accept-Language), else the default."""
    if course_language in ("zh", "en"):
        return str(course_language)
    for part in request.headers.get("Accept-Language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "en"


def render(request: web.Request, name: str, language: str, status: int = 200, **values: Any) -> web.Response:
    ctx = _ctx(request)

    def t(key: str, **params: Any) -> str:
        return ctx.i18n(language, f"web.{key}", **params)

    html = ctx.templates.get_template(name).render(t=t, language=language, **values)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def error_page(request: web.Request, status: int, key: str, language: str | None = None) -> web.Response:
    return render(request, "problem.html", _language(request, language), status=status, message_key=key)


def _session(request: web.Request) -> tuple[Visitor, str] | None:
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        return None
    ctx = _ctx(request)
    try:
        return ctx.signer.verify("session", token, ctx.clock.now()), token
    except BadToken:
        return None


def _start_session(request: web.Request, visitor: Visitor, location: str) -> web.HTTPSeeOther:
    ctx = _ctx(request)
    token = ctx.signer.sign("session", visitor, ctx.clock.now() + LINK_LIFETIME)
    response = web.HTTPSeeOther(location)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        secure=ctx.secure_cookies,
        max_age=int(LINK_LIFETIME.total_seconds()),
        path="/",
    )
    return response


async def _courses(request: web.Request, visitor: Visitor) -> list[str]:
    store = _ctx(request).store
    if not visitor.is_instructor:
        # A share link stops working the moment it is revoked, even in a session it started.
        token = await store.web_share_token(visitor.share_course)
        return [visitor.share_course] if token is not None and token == visitor.user_id else []
    return await store.instructor_courses(visitor.platform, visitor.user_id)


async def login(request: web.Request) -> web.StreamResponse:
    ctx = _ctx(request)
    try:
        visitor = ctx.signer.verify("login", request.query.get("t", ""), ctx.clock.now())
    except BadToken as error:
        return error_page(request, 403 if not error.expired else 410, "link_expired" if error.expired else "link_bad")
    if not visitor.is_instructor:
        return error_page(request, 403, "link_bad")
    raise _start_session(request, visitor, "/")


async def share(request: web.Request) -> web.StreamResponse:
    store = _ctx(request).store
    token = request.match_info["token"]
    course = await store.web_share_course(token)
    if course is None:
        return error_page(request, 404, "share_bad")
    raise _start_session(request, Visitor(user_id=token, share_course=course), f"/c/{course}")


async def logout(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    form = await request.post()
    if session is None or not _ctx(request).signer.csrf_ok(session[1], str(form.get("csrf", ""))):
        return error_page(request, 403, "csrf")
    response = web.HTTPSeeOther("/")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


async def home(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    if session is None:
        return error_page(request, 401, "need_link")
    visitor, token = session
    courses = await _courses(request, visitor)
    if not visitor.is_instructor and courses:
        raise web.HTTPSeeOther(f"/c/{courses[0]}")
    return render(
        request,
        "home.html",
        _language(request),
        courses=courses,
        visitor=visitor,
        csrf=_ctx(request).signer.csrf(token),
    )


async def _course_access(request: web.Request) -> tuple[Visitor, str, str] | web.Response:
    """The session, its CSRF token and the course's language; or the page that says why not."""
    session = _session(request)
    if session is None:
        return error_page(request, 401, "need_link")
    visitor, token = session
    slug = request.match_info["course"]
    if slug not in await _courses(request, visitor):
        return error_page(request, 404, "not_found")
    course = await _ctx(request).store.get_course(slug)
    if course is None:
        return error_page(request, 404, "not_found")
    return visitor, token, course.language


async def course_page(request: web.Request) -> web.StreamResponse:
    access = await _course_access(request)
    if isinstance(access, web.Response):
        return access
    visitor, token, language = access
    ctx = _ctx(request)
    slug = request.match_info["course"]
    q = request.query
    lessons = await ctx.store.web_lessons(slug)
    try:
        lesson_id = int(q["lesson"]) if q.get("lesson") else None
        page = int(q.get("page", "1"))
    except ValueError:
        return error_page(request, 400, "bad_filter", language)
    state = q.get("state", "")
    period = q.get("period", "")
    if state not in ("", "open", "answered") or period not in ("", *PERIODS) or page < 1 or page > 10_000:
        return error_page(request, 400, "bad_filter", language)
    if lesson_id is not None and lesson_id not in {lesson for lesson, _ in lessons}:
        return error_page(request, 400, "bad_filter", language)
    query = q.get("q", "")[:200]
    since = ctx.clock.now() - PERIODS[period] if period else None
    found, more = await ctx.store.web_questions(WebFilter(slug, query, lesson_id, state, since, page))
    return render(
        request,
        "course.html",
        language,
        course=slug,
        questions=found,
        more=more,
        page=page,
        lessons=lessons,
        lesson_id=lesson_id,
        state=state,
        period=period,
        query=query,
        visitor=visitor,
        now=ctx.clock.now(),
        csrf=ctx.signer.csrf(token),
    )


async def question_page(request: web.Request, notice: str = "", status: int = 200) -> web.StreamResponse:
    access = await _course_access(request)
    if isinstance(access, web.Response):
        return access
    visitor, token, language = access
    ctx = _ctx(request)
    raw = request.match_info["id"]
    detail = await ctx.store.web_question(request.match_info["course"], int(raw)) if raw.isdigit() else None
    if detail is None:
        return error_page(request, 404, "not_found", language)
    return render(
        request,
        "question.html",
        language,
        status=status,
        course=request.match_info["course"],
        detail=detail,
        visitor=visitor,
        notice=notice,
        now=ctx.clock.now(),
        csrf=ctx.signer.csrf(token),
    )


async def answer(request: web.Request) -> web.StreamResponse:
    """The instructor's answer, dispatched as their ``/answer`` so it goes out exactly as the command does."""
    access = await _course_access(request)
    if isinstance(access, web.Response):
        return access
    visitor, token, language = access
    ctx = _ctx(request)
    form = await request.post()
    if not ctx.signer.csrf_ok(token, str(form.get("csrf", ""))):
        return error_page(request, 403, "csrf", language)
    if not visitor.is_instructor:
        return error_page(request, 403, "read_only", language)
    raw = request.match_info["id"]
    if not raw.isdigit() or await ctx.store.web_question(request.match_info["course"], int(raw)) is None:
        return error_page(request, 404, "not_found", language)
    text = str(form.get("text", "")).strip()
    if not text or len(text) > MAX_ANSWER:
        return await question_page(request, notice="answer_empty", status=400)
    now = ctx.clock.now()
    # The private chat the instructor asked for the link in: the command's own confirmation goes there, as after
    # /answer sent there. Not the user id on every platform: a Discord DM channel has an id of its own.
    event = CommandInvoked(
        ref=MessageRef(visitor.platform, visitor.private_chat, "0"),
        actor=Member(visitor.platform, visitor.user_id, visitor.name),
        name="answer",
        args=f"{raw} {text}",
        at=now,
        private=True,
    )
    await ctx.dispatch(event)
    raise web.HTTPSeeOther(f"/c/{request.match_info['course']}/q/{raw}")


async def chart_page(request: web.Request) -> web.StreamResponse:
    """The digest's chart of the current period (questions per day and per lesson), as the digest draws it."""
    access = await _course_access(request)
    if isinstance(access, web.Response):
        return access
    visitor, token, language = access
    return render(
        request,
        "chart.html",
        language,
        course=request.match_info["course"],
        visitor=visitor,
        csrf=_ctx(request).signer.csrf(token),
    )


async def chart_png(request: web.Request) -> web.StreamResponse:
    access = await _course_access(request)
    if isinstance(access, web.Response):
        return access
    _, _, language = access
    ctx = _ctx(request)
    from bot.charts import ChartRenderer  # matplotlib, only when a chart is asked for
    from handlers.features.digests import compose_period

    course = await ctx.store.get_course(request.match_info["course"])
    assert course is not None  # checked by _course_access
    period = await compose_period(ctx.services, course, ctx.clock.now())
    if period.report.chart is None:
        return error_page(request, 404, "no_chart", language)
    png = await asyncio.to_thread(ChartRenderer(ctx.i18n).render_png, period.report.chart, language)
    return web.Response(body=png, content_type="image/png")
