"""Opening a PostgreSQL database: the pool, and what to tell the operator when the server cannot be used.

An operator sees ``DATABASE_URL`` problems on the terminal as studybot's last words, so each failure asyncpg
can raise at connect time is turned into :class:`storage.DatabaseUnusable` naming the setting, the address
(never the password) and what to do next.
"""

from __future__ import annotations

import logging
import socket

import asyncpg

from storage.errors import DatabaseNotWritable, DatabaseUnusable
from storage.locations import without_password

logger = logging.getLogger(__name__)

SETTING = "DATABASE_URL"
CONNECT_TIMEOUT = 10.0  # seconds: a server that does not answer is reported, never waited on for ever


async def open_pool(url: str, size: int) -> asyncpg.Pool:
    """A pool of at most ``size`` connections; raises :class:`DatabaseUnusable` saying why none could be made."""
    shown = without_password(url)
    try:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=size, timeout=CONNECT_TIMEOUT)
    except TimeoutError as error:
        raise DatabaseNotWritable(
            shown,
            f"did not answer within {CONNECT_TIMEOUT:.0f} s",
            "Check that the PostgreSQL server is running and reachable from this host.",
            setting=SETTING,
        ) from error
    except (OSError, socket.gaierror) as error:
        raise DatabaseNotWritable(
            shown,
            f"cannot be reached ({error.strerror or error})",
            "Check the host and port, and that the PostgreSQL server is running.",
            setting=SETTING,
        ) from error
    except asyncpg.InvalidCatalogNameError as error:
        raise DatabaseNotWritable(
            shown,
            "names a database that does not exist",
            "Create it first (createdb NAME, or CREATE DATABASE NAME), then start studybot again.",
            setting=SETTING,
        ) from error
    except (asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidPasswordError) as error:
        raise DatabaseNotWritable(
            shown,
            f"refused the login ({error})",
            "Check the user and password in DATABASE_URL.",
            setting=SETTING,
        ) from error
    except (asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as error:
        raise DatabaseNotWritable(
            shown,
            f"could not be opened ({error})",
            "Check DATABASE_URL (postgresql://USER:PASSWORD@HOST:PORT/NAME).",
            setting=SETTING,
        ) from error
    if pool is None:  # pragma: no cover - create_pool returns None only when awaited without a loop
        raise DatabaseNotWritable(shown, "could not be opened", "Check DATABASE_URL.", setting=SETTING)
    return pool


def explain_failure(shown_url: str, error: BaseException) -> DatabaseUnusable | None:
    """A connection lost in the middle of a command (server stopped, network gone), in the operator's terms."""
    if isinstance(error, (asyncpg.PostgresConnectionError, asyncpg.ConnectionDoesNotExistError, OSError)):
        return DatabaseNotWritable(
            shown_url,
            f"stopped answering ({error})",
            "Check that the PostgreSQL server is running, then run the command again.",
            setting=SETTING,
        )
    return None
