"""Adapters and wiring: settings, CLI, the platform backends and the composition root."""
