"""Exports of real questions, comments and discussion made through the console."""

from __future__ import annotations

import csv
import io
import json

from bot.export import render_export
from tests.scenarios.harness import ConsoleHarness
from tests.scenarios.stories import COURSE, prepare_course


async def populated(h: ConsoleHarness) -> None:
    await prepare_course(h)
    await h.command("anna", f"/setup {COURSE}", admin=True)
    await h.command("anna", "/lesson", admin=True)
    post = h.lesson_post("Why learn AI systems")
    question = await h.say("alice", "What is *RLHF*? <b>@everyone</b>", reply_to=post)
    await h.say("bob", "期待更新", reply_to=post)
    await h.say("carol", "It is reinforcement learning from human feedback.", reply_to=question)
    await h.react("dave", question, "👍")


async def test_markdown_reads_like_a_featured_comments_list(console: ConsoleHarness) -> None:
    await populated(console)
    text = render_export(await console.app.store.export_rows(COURSE), "md", "AI Systems")
    assert "## Why learn AI systems" in text
    assert "**精选留言（2）**" in text
    assert f"- **alice** 👍（1） 💬（1） {console.clock.now():%Y-%m-%d}" in text
    assert r"What is \*RLHF\*? \<b\>@everyone\</b\>" in text  # escaped: no formatting injected
    assert "  > carol：It is reinforcement learning from human feedback." in text
    assert text.index("alice") < text.index("期待更新")  # questions before comments


async def test_csv_and_json_carry_every_field(console: ConsoleHarness) -> None:
    await populated(console)
    rows = await console.app.store.export_rows(COURSE)
    records = list(csv.DictReader(io.StringIO(render_export(rows, "csv", "AI"))))
    assert [(r["author"], r["kind"], r["likes"], r["replies"]) for r in records] == [
        ("alice", "question", "1", "1"),
        ("bob", "comment", "0", "0"),
    ]
    data = json.loads(render_export(rows, "json", "AI"))
    assert data[0]["discussion"][0]["author"] == "carol"
    assert data[0]["text"] == "What is *RLHF*? <b>@everyone</b>"


async def test_every_format_gives_duplicate_of(console: ConsoleHarness) -> None:
    """Issue 12: a course team audits the merges from the export (null for a cluster's first question)."""
    await prepare_course(console)
    await console.command("anna", f"/setup {COURSE}", admin=True)
    await console.command("anna", "/lesson", admin=True)
    post = console.lesson_post("Why learn AI systems")
    await console.say("alice", "How do I install CUDA on Windows?", reply_to=post)
    await console.say("bob", "how to install cuda on windows??", reply_to=post)
    await console.say("carol", "How do I install CUDA on Linux?", reply_to=post)
    rows = await console.app.store.export_rows(COURSE)
    first = rows[0].question.id
    data = json.loads(render_export(rows, "json", "AI"))
    assert [(d["author"], d["duplicate_of"]) for d in data] == [("alice", None), ("bob", first), ("carol", None)]
    records = list(csv.DictReader(io.StringIO(render_export(rows, "csv", "AI"))))
    assert [r["duplicate_of"] for r in records] == ["", str(first), ""]
    assert f"↪ #{first}" in render_export(rows, "md", "AI")
