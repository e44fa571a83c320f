"""The web app: routes, security headers, sessions and the server's start and stop.

The page reads through the store's web reads (storage/web_reads.py) and answers through the core: an answer on
the page is the instructor's ``/answer`` dispatched as a core event, so it goes out exactly as the command does.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import jinja2
from aiohttp import web

from bot.app import App
from bot.config import Settings
from bot.web.auth import Signer, WebListenError
from handlers.i18n import Translator
from handlers.ports import Clock
from handlers.services import Services
from handlers.vocabulary.events import Dispatch
from storage import AnyStore

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
SESSION_COOKIE = "studybot_session"
# Scripts only from this origin (there are none inline), styles from our own sheet; no framing, no plugins.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True, slots=True)
class WebContext:
    """What the views need, built once by :func:`build_app` and kept on the application (no globals)."""

    store: AnyStore
    dispatch: Dispatch
    clock: Clock
    signer: Signer
    templates: jinja2.Environment
    i18n: Translator
    secure_cookies: bool
    services: Services


CONTEXT: web.AppKey[WebContext] = web.AppKey("studybot_web", WebContext)


@web.middleware
async def security_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    response = await handler(request)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every piece of user text is escaped, in every template (hostile question texts)
        undefined=jinja2.StrictUndefined,
    )


async def page_secret(store: AnyStore, configured: str | None) -> str:
    return configured if configured else await store.web_secret()


async def build_app(
    store: AnyStore,
    dispatch: Dispatch,
    clock: Clock,
    i18n: Translator,
    secret: str,
    services: Services,
    *,
    secure_cookies: bool = False,
) -> web.Application:
    from bot.web import views

    app = web.Application(middlewares=[security_headers])
    app[CONTEXT] = WebContext(store, dispatch, clock, Signer(secret), templates(), i18n, secure_cookies, services)
    app.router.add_get("/", views.home)
    app.router.add_get("/login", views.login)
    app.router.add_get("/share/{token}", views.share)
    app.router.add_get("/c/{course}", views.course_page)
    app.router.add_get("/c/{course}/q/{id}", views.question_page)
    app.router.add_get("/c/{course}/chart", views.chart_page)
    app.router.add_get("/c/{course}/chart.png", views.chart_png)
    app.router.add_post("/c/{course}/q/{id}/answer", views.answer)
    app.router.add_post("/logout", views.logout)
    app.router.add_static("/static", HERE / "static")
    return app


async def start_page(settings: Settings, app: App) -> web.AppRunner:
    """The page of ``studybot web`` and ``studybot run --web``, over the running app's store and core."""
    configured = settings.web_secret.get_secret_value() if settings.web_secret else None
    secret = await page_secret(app.store, configured)
    page = await build_app(
        app.store,
        app.dispatcher.dispatch,
        app.services.clock,
        app.services.i18n,
        secret,
        app.services,
        secure_cookies=settings.web_url().startswith("https://"),
    )
    host, port = settings.web_address()
    return await start_web(page, host, port)


async def start_web(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Serve ``app`` on host:port until the returned runner is cleaned up."""
    runner = web.AppRunner(app, access_log=None)  # access logs would carry the links' tokens
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as error:
        await runner.cleanup()
        raise WebListenError(f"cannot listen on WEB_LISTEN={host}:{port} ({error.strerror or error})") from error
    logger.info("web page on http://%s:%d", host, port)
    return runner
