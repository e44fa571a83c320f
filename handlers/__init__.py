"""The platform-agnostic core of studybot.

Nothing here knows about Discord, Telegram, APScheduler or SQL: backends turn platform updates into
:mod:`handlers.vocabulary.events`, the handlers decide what they mean, keep it through the :class:`handlers.ports.Store`
port and answer with :mod:`handlers.vocabulary.actions` that each backend renders for its platform.
"""
