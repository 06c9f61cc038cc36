"""One exception type for everything a user can fix; the CLI prints its message as one line."""


class StudioError(ValueError):
    """Bad input or a missing resource: the message says what was wrong and what to do."""


class MissingWeights(StudioError):
    """A registry model file is not in the local store."""
