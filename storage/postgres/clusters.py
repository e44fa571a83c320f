"""Question clusters on PostgreSQL (issue 12): placing a question in its cluster when it is stored.

A placeholder for now: the pg-likes work fills :func:`place` (and owns this module from then on). It is
called by :meth:`storage.postgres.posts.PostRows.add_post` and the imports inside the transaction that
inserts the question, as :func:`storage.clusters.place` is on SQLite, so a question is never seen unplaced.
"""

from __future__ import annotations

from storage.postgres.base import Conn


async def place(conn: Conn, question_id: int) -> None:
    """Join the stored question ``question_id`` to the cluster of an earlier question it duplicates.

    Empty until the pg-likes work fills it: until then every question stays alone.
    """
