"""The core's features, one module each: what studybot does with an event or a command.

Each registers its handlers on its own :class:`handlers.routing.Router`; :mod:`handlers.core` lists them. A
feature reaches the world only through the :class:`handlers.services.Services` it is given (the store's ports,
the outbox, the clock, the translator), never through a platform library, the scheduler or SQL.
"""
