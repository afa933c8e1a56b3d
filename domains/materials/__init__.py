"""Molecules and crystals: structure file I/O (``io``); models, metrics and CLI are added beside it."""
