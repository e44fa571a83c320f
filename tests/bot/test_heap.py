"""The start-up heap is frozen while studybot runs, and unfrozen when it stops."""

from __future__ import annotations

import gc

from bot.heap import frozen_startup_heap


def test_the_heap_is_frozen_inside_the_block_and_unfrozen_after() -> None:
    assert gc.get_freeze_count() == 0
    kept = [object()]
    with frozen_startup_heap():
        assert gc.get_freeze_count() > 0
        assert not any(obj is kept for obj in gc.get_objects())
        young = [[]]  # allocated after the freeze: tracked and collected as usual
        assert any(obj is young for obj in gc.get_objects())
    assert gc.get_freeze_count() == 0
    assert any(obj is kept for obj in gc.get_objects())  # collected as usual again


def test_the_heap_is_unfrozen_when_the_block_fails() -> None:
    try:
        with frozen_startup_heap():
            raise RuntimeError("stop")
    except RuntimeError:
        pass
    assert gc.get_freeze_count() == 0
