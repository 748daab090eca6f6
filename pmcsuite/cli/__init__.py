"""The ``pmcsuite`` command: a thin argparse layer over the Python API (``parser`` builds the
command line, ``commands`` runs each subcommand).

Every failure the user can fix is a PmcsuiteError: printed as one line, with the exit status of its
class (errors.py). Every command that prints results takes ``--json`` and prints one JSON document
with a ``provenance`` object (the result directory's own and this run's).
"""
from __future__ import annotations

import errno
import os
import signal
import sys

from ..errors import INTERNAL, USAGE, PmcsuiteError, Signalled
from .parser import build_parser


#: the signal being handled, once one came: a second one while the first's cleanup runs is ignored (it
#: would raise in the middle of that cleanup, in an except or finally block, and print a traceback)
_RECEIVED: list[int] = []


def _terminated(signum, frame):
    """SIGINT, SIGTERM and SIGHUP: measured processes killed, temporary files removed, runs kept; the exit
    status says which signal (128 + N). Only the first is raised; the cleanup it starts is not cut short."""
    if _RECEIVED:
        return
    _RECEIVED.append(signum)
    raise Signalled(signum)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    _RECEIVED.clear()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signum != signal.SIGINT or signal.getsignal(signum) is signal.default_int_handler:   # not SIG_IGN
            signal.signal(signum, _terminated)
    try:
        return _run(args)
    finally:
        if _RECEIVED:      # exiting: Python's own reset to SIG_DFL at exit must not let a late signal kill it
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(signum, signal.SIG_IGN)


def _run(args) -> int:
    """Run the command; its failures as one line and the exit status of their class."""
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
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            return _internal_error(exc)
        print(f"pmcsuite: error: {_path_too_long(exc.filename)}", file=sys.stderr)
        return USAGE
    except Exception as exc:  # a bug: one line, the traceback on request
        return _internal_error(exc)
    return status


def _path_too_long(path) -> str:
    """The one line for a path the system refuses as too long (ENAMETOOLONG), shortened for the message."""
    text = os.fsdecode(path) if path is not None else "a path"
    shown = text if len(text) <= 80 else f"{text[:40]}...{text[-30:]} ({len(text)} characters)"
    return f"{shown}: file name too long for this system: give a shorter path (e.g. with --out)"


def _internal_error(exc: Exception) -> int:
    """A bug: one line, the traceback on request (PMCSUITE_DEBUG=1)."""
    if os.environ.get("PMCSUITE_DEBUG"):
        raise exc
    print(f"pmcsuite: internal error: {type(exc).__name__}: {exc} "
          "(set PMCSUITE_DEBUG=1 for the traceback and please report it)", file=sys.stderr)
    return INTERNAL


if __name__ == "__main__":
    sys.exit(main())
