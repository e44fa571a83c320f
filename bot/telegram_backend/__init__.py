"""The Telegram backend on python-telegram-bot (named so that it cannot shadow the ``telegram`` package)."""
