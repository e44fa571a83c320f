"""The Telegram adapter dates what it makes (a chat move a send learnt of, advice) by the Clock it is given,
and takes an update's time from Telegram: it never reads today's date itself."""

from __future__ import annotations

import ast
from pathlib import Path

import bot.telegram_backend

ADAPTER = Path(bot.telegram_backend.__file__).parent
WALL_CLOCK_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today")}
WALL_CLOCK_CALLS |= {("time", "time"), ("time", "time_ns"), ("time", "localtime"), ("time", "gmtime")}


def wall_clock_reads(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
            if (name, node.func.attr) in WALL_CLOCK_CALLS:
                found.append(f"{path.name}:{node.lineno} {name}.{node.func.attr}()")
    return found


def test_no_telegram_adapter_module_reads_the_wall_clock() -> None:
    modules = sorted(ADAPTER.glob("*.py"))
    assert len(modules) >= 5
    assert [read for module in modules for read in wall_clock_reads(module)] == []
