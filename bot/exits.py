"""studybot's exit statuses (README, "The command line"): scripts and service managers tell the cases apart."""

from __future__ import annotations

# 0 done, or stopped by SIGTERM/SIGINT as asked; 1 failed (a check, a file, a database newer than the code);
# 2 a setting, token or intent to fix; 5 a platform could not be reached or did not answer in time (the network,
# an API URL, the platform itself): worth retrying later as it is.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_DATABASE_UNWRITABLE = 3  # DATABASE_PATH cannot be created, opened or written where it is
EXIT_DATABASE_DAMAGED = 4  # DATABASE_PATH is not an SQLite database, or a damaged one
EXIT_UNREACHABLE = 5
