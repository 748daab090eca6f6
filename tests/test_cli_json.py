"""--json output is JSON as RFC 8259 defines it: a NaN or an infinity in a document is printed as null,
never as Python's ``NaN``/``Infinity``, which other JSON readers refuse."""
import math

import numpy as np
import pytest

from pmcsuite.cli import commands
from pmcsuite.results.load import load
from pmcsuite.schema import parse_json

pytestmark = pytest.mark.unit


def test_a_nan_in_a_document_is_printed_as_null(results_small, capsys):
    document = {"ratio": math.nan, "bandwidth": np.float64("inf"), "ci": [1.5, np.float64("nan")],
                "cells": [{"median": -math.inf, "n": np.int64(3)}]}
    commands._print_json(document, load(results_small))
    text = capsys.readouterr().out
    assert "NaN" not in text and "Infinity" not in text
    printed = parse_json(text)              # strict: NaN/Infinity would raise ValueError
    assert printed["ratio"] is None and printed["bandwidth"] is None and printed["ci"] == [1.5, None]
    assert printed["cells"] == [{"median": None, "n": 3}]
    assert printed["provenance"]["results"] == str(results_small)


@pytest.mark.parametrize("command", ["overhead", "explain", "summary"])
def test_the_commands_json_is_strict_json(results_small, cli, command):
    proc = cli(command, results_small, "--json")
    assert proc.returncode == 0, proc.stderr
    assert parse_json(proc.stdout)["provenance"]["results"] == str(results_small)
