"""Platform adapters: each converts its platform's events to neutral ones at the edge."""


class StartupError(Exception):
    """An adapter cannot start (bad credentials, unreachable rooms); the message says why."""
