"""Helpers for the FakeTelegram self-tests: raw Bot API calls (to see exact answers), a webhook receiver, a group.

Kept apart from the tests so each test module stays about one concern of the server.
"""

from __future__ import annotations

import contextlib
import datetime as dtm
import json
import warnings
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
from aiohttp import web
from telegram.error import RetryAfter
from telegram.warnings import PTBDeprecationWarning

from tests.fakes.telegram_api import FakeTelegram

Json = dict[str, Any]


async def raw(
    tg: FakeTelegram, method: str, *, encoding: str = "form", token: str | None = None, **params: Any
) -> tuple[int, Json]:
    """One Bot API call over HTTP without PTB, so the exact answer can be checked."""
    url = f"{tg.base_url}{token or tg.token}/{method}"
    text = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    async with aiohttp.ClientSession() as session:
        if encoding == "json":
            request = session.post(url, json=params)
        elif encoding == "form":
            request = session.post(url, data=text)
        elif encoding == "multipart":
            form = aiohttp.FormData(default_to_multipart=True)
            for key, value in text.items():
                form.add_field(key, value)
            request = session.post(url, data=form)
        else:
            request = session.get(url, params=text)
        async with request as response:
            return response.status, await response.json()


def seconds(exc: RetryAfter) -> float:
    """RetryAfter.retry_after is an int or a timedelta depending on PTB_TIMEDELTA."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


@contextlib.asynccontextmanager
async def receiver(
    statuses: list[int] | None = None,
    reply: Json | None = None,
) -> AsyncIterator[tuple[str, list[tuple[Mapping[str, str], Json]]]]:
    """A tiny webhook endpoint on 127.0.0.1: records (headers, update); answers ``statuses`` in turn."""
    got: list[tuple[Mapping[str, str], Json]] = []
    answers = list(statuses or [])

    async def handle(request: web.Request) -> web.Response:
        got.append((dict(request.headers), await request.json()))
        status = answers.pop(0) if answers else 200
        if status == 200 and reply is not None:
            return web.json_response(reply)
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook", got
    finally:
        await runner.cleanup()


def group_with(tg: FakeTelegram, kind: str = "supergroup", **kwargs: Any) -> tuple[Json, Json]:
    alice = tg.add_user("Alice", username="alice")
    group = tg.add_chat(kind, "Course", **kwargs)
    tg.add_member(group, alice)
    return group, alice
