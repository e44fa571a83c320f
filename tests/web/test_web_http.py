"""The page's rules over HTTP with aiohttp's test client: links, sessions, CSRF, escaping, search, filters,
answering through the core, and no other course's data."""

from __future__ import annotations

from tests.web.conftest import COURSE, HOSTILE, OTHER, WebSetup, csrf_of


async def login(web: WebSetup, user: str = "tyler") -> None:
    response = await web.client.get(web.login_link(user), allow_redirects=False)
    assert response.status == 303
    cookie = response.cookies["studybot_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


async def test_without_a_link_the_page_says_how_to_get_one(web: WebSetup) -> None:
    response = await web.client.get(f"/c/{COURSE}")
    assert response.status == 401
    assert "/web" in await response.text()
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


async def test_a_wrong_or_expired_link_gets_a_clear_page(web: WebSetup) -> None:
    link = web.login_link()
    altered = await web.client.get(link[:-3] + "AAA", allow_redirects=False)
    assert altered.status == 403 and "not valid" in await altered.text()
    expired = web.login_link(hours=1)
    web.h.clock.advance(hours=2)
    response = await web.client.get(expired, allow_redirects=False)
    assert response.status == 410 and "expired" in await response.text()
    assert "studybot_session" not in response.cookies


async def test_the_instructor_sees_the_course_ranked_with_askers(web: WebSetup) -> None:
    await login(web)
    home = await web.client.get("/")
    assert f"/c/{COURSE}" in await home.text() and OTHER not in await home.text()
    page = await (await web.client.get(f"/c/{COURSE}")).text()
    assert "Which GPU should I buy" in page and "什么时候讲分布式训练" in page
    assert "asked by Alice" in page or "asked by alice" in page


async def test_a_hostile_question_renders_as_text(web: WebSetup) -> None:
    await login(web)
    page = await (await web.client.get(f"/c/{COURSE}/q/{web.questions['hostile']}")).text()
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


async def test_search_in_english_and_chinese_and_the_short_chinese_fallback(web: WebSetup) -> None:
    await login(web)
    english = await (await web.client.get(f"/c/{COURSE}", params={"q": "gpu"})).text()
    assert "Which GPU" in english and "分布式" not in english
    chinese = await (await web.client.get(f"/c/{COURSE}", params={"q": "分布式"})).text()
    assert "分布式训练" in chinese and "Which GPU" not in chinese
    short = await (await web.client.get(f"/c/{COURSE}", params={"q": "显存"})).text()
    assert "显存不够" in short and "分布式" not in short
    fts_syntax = await web.client.get(f"/c/{COURSE}", params={"q": '"AND OR NEAR('})
    assert fts_syntax.status == 200


async def test_filters_and_bad_filters(web: WebSetup) -> None:
    await login(web)
    answered = await (await web.client.get(f"/c/{COURSE}", params={"state": "answered"})).text()
    assert "No questions match" in answered
    web.h.clock.advance(days=10)
    await login(web)  # the session lasts a few hours
    week = await (await web.client.get(f"/c/{COURSE}", params={"period": "week"})).text()
    assert "No questions match" in week
    for bad in ({"state": "x"}, {"lesson": "abc"}, {"lesson": "999999"}, {"period": "year"}, {"page": "0"}):
        response = await web.client.get(f"/c/{COURSE}", params=bad)
        assert response.status == 400, bad
        assert "not valid" in await response.text()


async def test_another_courses_url_shows_nothing(web: WebSetup) -> None:
    await login(web)
    other = await web.client.get(f"/c/{OTHER}")
    assert other.status == 404
    missing = await web.client.get("/c/no-such-course")
    assert missing.status == 404 and await missing.text() == await other.text()
    # A question id of this course under another course's URL, and a question of another course: not found.
    response = await web.client.get(f"/c/{OTHER}/q/{web.questions['gpu']}")
    assert response.status == 404


async def test_answering_on_the_page_goes_out_as_answer_does(web: WebSetup) -> None:
    await login(web)
    qid = web.questions["gpu"]
    page = await (await web.client.get(f"/c/{COURSE}/q/{qid}")).text()
    token = csrf_of(page)
    response = await web.client.post(
        f"/c/{COURSE}/q/{qid}/answer", data={"csrf": token, "text": "An RTX 4090 is plenty."}
    )
    assert response.status == 200
    assert "An RTX 4090 is plenty." in await response.text()
    assert any("An RTX 4090 is plenty." in m and "Answer from instructor" in m for m in web.h.group_messages())
    answered = await (await web.client.get(f"/c/{COURSE}", params={"state": "answered"})).text()
    assert "Which GPU" in answered


async def test_a_form_without_its_csrf_token_changes_nothing(web: WebSetup) -> None:
    await login(web)
    qid = web.questions["gpu"]
    before = web.h.group_messages()
    for data in ({"text": "hi"}, {"csrf": "forged", "text": "hi"}):
        response = await web.client.post(f"/c/{COURSE}/q/{qid}/answer", data=data)
        assert response.status == 403
    empty = await web.client.post(
        f"/c/{COURSE}/q/{qid}/answer",
        data={"csrf": csrf_of(await (await web.client.get(f"/c/{COURSE}/q/{qid}")).text()), "text": " "},
    )
    assert empty.status == 400
    assert web.h.group_messages() == before
    detail = await web.h.app.store.get_question(qid)
    assert detail is not None and not detail.answered


async def test_a_learner_link_sees_no_course(web: WebSetup) -> None:
    await login(web, "alice")
    home = await (await web.client.get("/")).text()
    assert "not an instructor" in home
    assert (await web.client.get(f"/c/{COURSE}")).status == 404


async def test_a_share_link_is_read_only_without_names_and_revocable(web: WebSetup) -> None:
    store = web.h.app.store
    token = await store.web_share_create(COURSE, web.h.clock.now())
    response = await web.client.get(f"/share/{token}")
    assert response.status == 200
    page = await response.text()
    assert "Which GPU" in page and "asked by" not in page.lower() and "Alice" not in page
    detail = await (await web.client.get(f"/c/{COURSE}/q/{web.questions['gpu']}")).text()
    assert "<textarea" not in detail
    session = response.history[0].cookies["studybot_session"].value
    refused = await web.client.post(
        f"/c/{COURSE}/q/{web.questions['gpu']}/answer",
        data={"csrf": web.signer.csrf(session), "text": "from a share link"},
    )
    assert refused.status == 403 and "read-only" in await refused.text()
    stored = await store.get_question(web.questions["gpu"])
    assert stored is not None and not stored.answered
    assert (await web.client.get(f"/c/{OTHER}")).status == 404
    await store.web_share_revoke(COURSE)
    assert (await web.client.get(f"/c/{COURSE}")).status == 404
    assert (await web.client.get(f"/share/{token}")).status == 404


def test_every_text_the_templates_use_is_translated() -> None:
    import re
    from pathlib import Path

    from handlers.i18n import Translator

    i18n = Translator.load("en")
    folder = Path(__file__).resolve().parents[2] / "bot" / "web" / "templates"
    used = {key for path in folder.glob("*.html") for key in re.findall(r"""t\(["'](\w+)["']""", path.read_text())}
    used |= {"need_link", "link_expired", "link_bad", "share_bad", "not_found", "bad_filter", "csrf", "answer_empty"}
    assert used and all(f"web.{key}" in set(i18n.keys("en")) and f"web.{key}" in set(i18n.keys("zh")) for key in used)


async def test_the_digest_chart_of_the_current_period(web: WebSetup) -> None:
    await login(web)
    page = await (await web.client.get(f"/c/{COURSE}/chart")).text()
    assert f'src="/c/{COURSE}/chart.png"' in page
    png = await web.client.get(f"/c/{COURSE}/chart.png")
    assert png.status == 200 and png.content_type == "image/png"
    assert (await png.read()).startswith(b"\x89PNG")
    assert (await web.client.get(f"/c/{OTHER}/chart.png")).status == 404


def test_a_link_names_the_private_chat_its_answers_are_confirmed_in() -> None:
    from datetime import UTC, datetime, timedelta

    from bot.web.auth import Signer, Visitor

    signer, now = Signer("secret"), datetime(2026, 3, 1, tzinfo=UTC)
    discord = Visitor("discord", "42", "Tyler", chat_id="9001")  # a DM channel has an id of its own
    assert signer.verify("login", signer.sign("login", discord, now + timedelta(hours=1)), now).private_chat == "9001"
    telegram = Visitor("telegram", "42", "Tyler")  # a link made before the chat was kept: the user's own id
    assert signer.verify("login", signer.sign("login", telegram, now + timedelta(hours=1)), now).private_chat == "42"
