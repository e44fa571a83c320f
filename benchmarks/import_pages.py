"""Course-page import benchmark: time and peak memory of `studybot lesson add` on generated pages.

Run: ``.venv/bin/python benchmarks/import_pages.py [--sizes 4000,8000,16000] [--markdown-mb 20]``.

Each page is generated in the format of tests/data/course-page-lesson-00.txt (intro, then N featured comments)
and imported by the real command (`python -m bot.cli lesson add`) in a fresh process on a fresh database, then
once more (a re-import: every comment known). Peak memory is the child's maximum resident set size. Every run
checks that the database holds exactly the page's comments, and fails loudly otherwise. Targets: a
16,000-comment page imported in under 5 s; time growing linearly (16k / 4k at most 6×, where linear is 4×);
for files of 10 MB or more (a 130,000-comment page, a 20 MB Markdown lesson), peak memory above the
interpreter's own at most 4× the file's size.

Exits non-zero when a target is missed, and prints the figures either way.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAD = "开篇词\n\n这是一讲的简介。An intro paragraph for the lesson.\n\n"
TARGET_SECONDS_16K = 5.0
TARGET_GROWTH = 6.0  # time(16k) / time(4k); linear is 4
TARGET_MEMORY_RATIO = 4.0  # peak memory above the interpreter's, over the file's size (files of 10 MB or more)


def page(comments: int) -> str:
    items = []
    for n in range(comments):
        text = f"第{n}条：这门课和其他课的区别是什么？ Question {n} &amp; more" if n % 2 else f"期待更新 {n}"
        items.append(
            f'<li><img src="" width="30px"><span>learner{n % 997}</span> 👍（{n % 13}） 💬（{n % 3}）'
            f"<div>{text}</div>2023-{1 + n % 12:02d}-{1 + n % 28:02d}</li><br/>"
        )
    return HEAD + f"<div><strong>精选留言（{comments}）</strong></div><ul>\n" + "\n".join(items) + "\n</ul>\n"


def markdown(megabytes: int) -> str:
    paragraph = (
        "这是一段很长的课程正文。This is a long lesson paragraph with **bold** and [a link](https://example.com).\n\n"
    )
    count = megabytes * 1024 * 1024 // len(paragraph.encode())
    return "---\ntitle: A very long lesson\n---\n" + paragraph * count


def run_import(folder: Path, path: Path) -> tuple[float, float]:
    """(seconds, peak MB) of one `lesson add` in a child process of its own (its own resource usage)."""
    env = os.environ | {"DATABASE_PATH": str(folder / "bench.db"), "LOG_LEVEL": "WARNING"}
    (folder / "none.env").touch()  # no settings file but these
    command = [sys.executable, "-m", "bot.cli", "--env-file", str(folder / "none.env"), "lesson", "add"]
    with tempfile.TemporaryFile("w+") as output:
        start = time.perf_counter()
        child = subprocess.Popen([*command, "--course", "bench", str(path)], env=env, stdout=output, stderr=output)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            output.seek(0)
            raise SystemExit(f"lesson add failed ({os.waitstatus_to_exitcode(status)}): {output.read()}")
    return seconds, usage.ru_maxrss / 1024


def stored_posts(folder: Path) -> int:
    with sqlite3.connect(folder / "bench.db") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM questions WHERE import_key IS NOT NULL").fetchone()[0])


def baseline_mb() -> float:
    """The peak memory of the interpreter importing studybot's CLI and doing nothing: what any run costs."""
    child = subprocess.Popen([sys.executable, "-c", "import bot.cli"])
    _, _, usage = os.wait4(child.pid, 0)
    return usage.ru_maxrss / 1024


def write_in_child(path: Path, kind: str, size: int) -> None:
    """Generate a file in a process of its own. A child's peak memory counts the parent's pages it was forked
    from, so this process must never hold a 20 MB page itself."""
    subprocess.run([sys.executable, __file__, "--write", kind, str(size), str(path)], check=True)


def main() -> None:
    if sys.argv[1:2] == ["--write"]:
        kind, size, target = sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
        target.write_text(page(size) if kind == "page" else markdown(size), encoding="utf-8")
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4000,8000,16000,130000")
    parser.add_argument("--markdown-mb", type=int, default=20)
    options = parser.parse_args()
    sizes = sorted(int(s) for s in options.sizes.split(","))
    floor = baseline_mb()
    print(f"interpreter + studybot imported: {floor:.0f} MB peak")
    failures: list[str] = []

    def check_memory(what: str, peak: float, file_mb: float) -> None:
        ratio = (peak - floor) / file_mb
        print(f"    memory above the interpreter's: {peak - floor:.0f} MB, {ratio:.1f}× the file")
        if file_mb >= 10 and ratio > TARGET_MEMORY_RATIO:
            failures.append(f"{what}: peak {ratio:.1f}× the file's size (target ≤ {TARGET_MEMORY_RATIO}×)")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "long.md"
        write_in_child(path, "markdown", options.markdown_mb)
        seconds, peak = run_import(folder, path)
        print(f"Markdown {path.stat().st_size / 1e6:.1f} MB: import {seconds:6.2f} s, peak {peak:.0f} MB")
        check_memory("Markdown", peak, path.stat().st_size / 1e6)
    times: dict[int, float] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            path = folder / "lesson-01.txt"
            write_in_child(path, "page", size)
            first, peak = run_import(folder, path)
            again, _ = run_import(folder, path)
            if (stored := stored_posts(folder)) != size:
                raise SystemExit(f"{size} comments: {stored} stored after import and re-import")
            times[size] = first
            mb = path.stat().st_size / 1e6
            print(f"{size:>6} comments ({mb:5.1f} MB): import {first:6.2f} s, re-import {again:6.2f} s", end="")
            print(f", peak {peak:.0f} MB")
            check_memory(f"{size} comments", peak, mb)
    if 16000 in times and times[16000] > TARGET_SECONDS_16K:
        failures.append(f"16,000 comments took {times[16000]:.2f} s (target {TARGET_SECONDS_16K} s)")
    if 4000 in times and 16000 in times and times[16000] / times[4000] > TARGET_GROWTH:
        failures.append(f"16k/4k time ratio {times[16000] / times[4000]:.1f} (target ≤ {TARGET_GROWTH}, linear 4)")
    for failure in failures:
        print(f"MISSED: {failure}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
