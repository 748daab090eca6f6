"""The exception types the user sees: a one-line message saying what is wrong and how to fix it,
and the exit status the command line returns for it (one meaning each, README "When things go wrong").

| exit | meaning |
|---|---|
| 0 | success |
| 1 | a regression: ``compare --fail-if-slower PCT`` found points slower than that |
| 2 | bad input or usage (options, sizes, catalogue, result files; a benchmark that failed or hung) |
| 3 | the environment (tool missing, permission denied, nothing countable, storage full/read-only, result dir in use) |
| 70 | a bug in pmcsuite (internal error) |
| 128 + N | interrupted by signal N: 130 Ctrl-C (SIGINT), 143 SIGTERM, 129 SIGHUP; measured runs are kept |
"""

REGRESSION = 1
USAGE = 2
ENVIRONMENT = 3
INTERNAL = 70


class PmcsuiteError(Exception):
    """A failure caused by input, environment or a measured program, reported as one line.

    The CLI prints ``pmcsuite: error: <message>`` and exits with ``exit_code`` (no traceback).
    """

    exit_code = USAGE

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class EnvironmentProblem(PmcsuiteError):
    """The machine, not the input, is in the way: a tool missing, permission denied, nothing can be
    counted, storage full or read-only, the result directory held by another pmcsuite."""

    exit_code = ENVIRONMENT


class Interrupted(PmcsuiteError):
    """The user (Ctrl-C) or the system (SIGTERM, SIGHUP) stopped the command; exit 128 + signal."""

    def __init__(self, message: str, signum: int = 2):
        super().__init__(message)
        self.exit_code = 128 + signum


class Signalled(KeyboardInterrupt):
    """Raised by the SIGTERM/SIGHUP handlers, so that every cleanup path of Ctrl-C runs for them too."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
