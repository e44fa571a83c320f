"""A Hypothesis state machine over likes: whatever members (and a bot) do, in any order, on any path (live,
bursts, reconciliation), across restarts, a question's ``likes`` is the number of other members who are not bots
with at least one like-emoji reaction on it. It runs on both stores: each example on a fresh SQLite file or a
fresh PostgreSQL database."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from handlers.vocabulary.domain import Member, MessageRef, ReactionChange
from storage.locations import Database, open_store
from tests.postgres_server import PostgresServer, migrated_template
from tests.storage.helpers import T0, AnyStore, World, make_world

T = TypeVar("T")

MEMBERS = [Member("telegram", str(n), f"member {n}") for n in range(4)]
BOT = Member("telegram", "99", "a bot", is_bot=True)
LIKE_EMOJIS = ("👍", "❤️")
EMOJIS = (*LIKE_EMOJIS, "😂")
QUESTIONS = 2  # question i is written by MEMBERS[i]

members = st.sampled_from([*MEMBERS, BOT])
emojis = st.sampled_from(EMOJIS)
questions = st.integers(0, QUESTIONS - 1)


# A fresh database for one example, and what removes it afterwards.
NewDatabase = Callable[[], tuple[Database, Callable[[], None]]]
_databases = itertools.count(1)


def sqlite_file() -> tuple[Database, Callable[[], None]]:
    folder = Path(tempfile.mkdtemp(prefix="studybot-likes-"))
    return Database.sqlite(folder / "likes.db"), lambda: shutil.rmtree(folder, ignore_errors=True)


def postgres_database(server: PostgresServer) -> NewDatabase:
    def new() -> tuple[Database, Callable[[], None]]:
        name = f"likes_{os.getpid()}_{next(_databases)}"
        url = server.create_database(name, template=migrated_template(server))
        return Database.parse(url), lambda: server.drop_database(name)

    return new


class LikesMachine(RuleBasedStateMachine):
    new_database: NewDatabase = staticmethod(sqlite_file)

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.database, self.remove_database = self.new_database()
        self.store: AnyStore = self.run(open_store(self.database))
        self.world: World = self.run(make_world(self.store))
        self.run(self.store.set_like_emojis(self.world.group.id, LIKE_EMOJIS))
        self.refs: list[MessageRef] = []
        for i in range(QUESTIONS):
            question = self.run(self.world.post(author=MEMBERS[i]))
            assert question.ref is not None
            self.refs.append(question.ref)
        self.reactions: set[tuple[int, str, str]] = set()  # (question, member user id, emoji) the model counts

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    @staticmethod
    def counts(question: int, member: Member, emoji: str) -> bool:
        """The like rule, as the model states it."""
        return emoji in LIKE_EMOJIS and member.user_id != MEMBERS[question].user_id and not member.is_bot

    @rule(question=questions, member=members, emoji=emojis)
    def add(self, question: int, member: Member, emoji: str) -> None:
        self.run(self.store.add_reaction(self.refs[question], member, emoji, T0))
        if self.counts(question, member, emoji):
            self.reactions.add((question, member.user_id, emoji))

    @rule(question=questions, emoji=st.sampled_from(LIKE_EMOJIS))
    def self_like(self, question: int, emoji: str) -> None:
        self.run(self.store.add_reaction(self.refs[question], MEMBERS[question], emoji, T0))

    @precondition(lambda self: bool(self.reactions))
    @rule(data=st.data())
    def duplicate(self, data: st.DataObject) -> None:
        question, user_id, emoji = data.draw(st.sampled_from(sorted(self.reactions)))
        member = next(m for m in MEMBERS if m.user_id == user_id)  # (never the bot: the model never counts it)
        self.run(self.store.add_reaction(self.refs[question], member, emoji, T0))

    @rule(question=questions, member=members, emoji=emojis)
    def remove(self, question: int, member: Member, emoji: str) -> None:
        self.run(self.store.remove_reaction(self.refs[question], member, emoji))
        self.reactions.discard((question, member.user_id, emoji))

    @rule(question=questions, emoji=st.none() | emojis)
    def clear(self, question: int, emoji: str | None) -> None:
        self.run(self.store.clear_reactions(self.refs[question], emoji))
        self.reactions = {r for r in self.reactions if not (r[0] == question and emoji in (None, r[2]))}

    @rule(question=questions, member_a=members, member_b=members, emoji=emojis)
    def concurrent(self, question: int, member_a: Member, member_b: Member, emoji: str) -> None:
        """An add and a remove racing in one batch: FIFO order decides, as the model does."""
        ref = self.refs[question]

        async def both() -> None:
            await asyncio.gather(
                self.store.add_reaction(ref, member_a, emoji, T0), self.store.remove_reaction(ref, member_b, emoji)
            )

        self.run(both())
        if self.counts(question, member_a, emoji):
            self.reactions.add((question, member_a.user_id, emoji))
        self.reactions.discard((question, member_b.user_id, emoji))

    @rule(
        changes=st.lists(st.tuples(questions, members, emojis, st.booleans(), st.booleans()), min_size=2, max_size=8),
        kept=st.booleans(),
    )
    def burst(self, changes: list[tuple[int, Member, str, bool, bool]], kept: bool) -> None:
        """Adds and removes in one burst (reaction_changes), some by members under a new name."""
        self.apply_burst(changes, kept)

    @rule(
        changes=st.lists(st.tuples(questions, members, emojis, st.booleans()), min_size=2, max_size=8),
        kept=st.booleans(),
    )
    def like_burst(self, changes: list[tuple[int, Member, str, bool]], kept: bool) -> None:
        """Only adds (the plain statement, or like_bursts when a member is new under that name); ``kept``: kept
        first and counted after (keep_reactions, as Telegram's poller hands them), else applied at once."""
        adds = [(question, member, emoji, True, renamed) for question, member, emoji, renamed in changes]
        self.apply_burst(adds, kept)

    def apply_burst(self, changes: list[tuple[int, Member, str, bool, bool]], kept: bool = False) -> None:
        burst = []
        for question, member, emoji, added, renamed in changes:
            who = replace(member, display_name=f"{member.display_name} (renamed)") if renamed else member
            burst.append(ReactionChange(self.refs[question], who, emoji, T0, added))
            if not added:
                self.reactions.discard((question, member.user_id, emoji))
            elif self.counts(question, member, emoji):
                self.reactions.add((question, member.user_id, emoji))
        self.run(self.store.keep_reactions(burst) if kept else self.store.apply_reactions(burst))

    @rule(question=questions, reported=st.lists(st.tuples(members, emojis), max_size=6))
    def reconcile(self, question: int, reported: list[tuple[Member, str]]) -> None:
        """What the platform reports replaces what is kept, by the same rule."""
        self.run(self.store.reconcile_reactions(self.refs[question], reported, T0))
        self.reactions = {r for r in self.reactions if r[0] != question}
        self.reactions |= {(question, m.user_id, e) for m, e in reported if self.counts(question, m, e)}

    @rule()
    def restart(self) -> None:
        self.run(self.store.close())
        self.store = self.run(open_store(self.database))
        self.world.store = self.store

    @invariant()
    def likes_count_members_with_a_like_emoji(self) -> None:
        for question, ref in enumerate(self.refs):
            stored = self.run(self.store.question_by_ref(ref))
            assert stored is not None
            expected = len({user for (q, user, _) in self.reactions if q == question})
            assert stored.likes == expected, (question, stored.likes, sorted(self.reactions))
            assert stored.base_likes == 0

    def teardown(self) -> None:
        self.run(self.store.close())
        self.loop.close()
        self.remove_database()


SETTINGS = settings(
    max_examples=40, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_likes_machine(kind: str, request: pytest.FixtureRequest) -> None:
    new = sqlite_file if kind == "sqlite" else postgres_database(request.getfixturevalue("postgres_server"))

    class Machine(LikesMachine):
        new_database = staticmethod(new)

    run_state_machine_as_test(Machine, settings=SETTINGS)
