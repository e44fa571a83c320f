"""A getUpdates batch cut into steps: a run of reactions is one step (one burst for the core, committed
together), every other update a step of its own. Also the one reading of Telegram's retry_after."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from telegram import Update

from bot.telegram_backend import translate
from handlers.vocabulary.domain import ReactionChange


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a getUpdates batch: an update handled on its own, or a run of reactions as their changes."""

    first_id: int
    next_offset: int
    update: Update | None = None
    changes: tuple[ReactionChange, ...] = ()

    @classmethod
    def of(cls, run: Sequence[Update]) -> Step:
        first, next_offset = run[0].update_id, run[-1].update_id + 1
        if len(run) == 1:
            return cls(first, next_offset, update=run[0])
        changes = tuple(
            change
            for update in run
            if update.message_reaction is not None
            for change in translate.reaction_changes(update.message_reaction)
        )
        return cls(first, next_offset, changes=changes)


def reaction_runs(updates: Sequence[Update]) -> list[list[Update]]:
    """Split a batch into runs: consecutive reaction updates together, every other update on its own.

    Messages stay one at a time because their handlers read before they write: a reaction to a message in the
    same batch must find that message stored.
    """
    runs: list[list[Update]] = []
    for update in updates:
        if update.message_reaction is not None and runs and runs[-1][0].message_reaction is not None:
            runs[-1].append(update)
        else:
            runs.append([update])
    return runs


def seconds(value: object) -> float:
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]
