"""The Discord backend on discord.py (named so that it cannot shadow the ``discord`` package)."""
