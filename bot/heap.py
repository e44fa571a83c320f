"""The start-up heap is frozen once studybot is running, so the garbage collector stops rescanning it.

Why: after start-up the process holds a large, long-lived heap (the libraries' modules and caches, the
translations, the settings, the connections) that never becomes garbage. CPython's full collections walk all of
it, and a burst of events (thousands of reactions, each alive for a few milliseconds while its lot commits)
sets one off every few thousand events: on the ingest benchmarks that was a pause of the order of 100 ms each,
most of the collector's share of a reaction. ``gc.freeze()`` moves what exists at that moment into a permanent
generation that collections ignore; everything allocated afterwards is collected as usual. A collection runs
first, so nothing already garbage is frozen.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def frozen_startup_heap() -> Iterator[None]:
    """Freeze the heap as it is now for the duration of the block (unfrozen after, for tests in one process)."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
