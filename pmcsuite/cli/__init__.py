"""The ``pmcsuite`` command: a thin argparse layer over the Python API (``parser`` builds the
command line, ``commands`` runs each subcommand).

Every failure the user can fix is a PmcsuiteError: printed as one line, with the exit status of its
class (errors.py). Every command that prints results takes ``--json`` and prints one JSON document
with a ``provenance`` object (the result directory's own and this run's).
"""
from __future__ import annotations

import os
import signal
import sys

from ..errors import INTERNAL, PmcsuiteError, Signalled
from .parser import build_parser


def _terminated(signum, frame):
    """SIGTERM and SIGHUP are handled like Ctrl-C: measured processes killed, temporary files removed,
    runs kept; the exit status says which signal (128 + N)."""
    raise Signalled(signum)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _terminated)
    try:
        status = args.func(args) or 0          # a command may return a status of its own (compare: 1)
    except PmcsuiteError as exc:
        print(f"pmcsuite: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"pmcsuite: interrupted ({signal.Signals(signum).name})", file=sys.stderr)
        return 128 + signum
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: one line, the traceback on request
        if os.environ.get("PMCSUITE_DEBUG"):
            raise
        print(f"pmcsuite: internal error: {type(exc).__name__}: {exc} "
              "(set PMCSUITE_DEBUG=1 for the traceback and please report it)", file=sys.stderr)
        return INTERNAL
    return status


if __name__ == "__main__":
    sys.exit(main())
