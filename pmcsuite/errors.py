"""The one exception type the user sees: a one-line message saying what is wrong and how to fix it."""


class PmcsuiteError(Exception):
    """A failure caused by input, environment or a measured program, reported as one line.

    The CLI prints ``pmcsuite: error: <message>`` and exits with status 2 (no traceback).
    """

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))
