"""Sizes as users write them: only ASCII digits and the documented suffixes are read."""
import pytest

from pmcsuite.errors import PmcsuiteError
from pmcsuite.sizes import parse_size, parse_sizes

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("text, value", [("65536", 65536), ("64K", 65536), ("64k", 65536), ("64KiB", 65536),
                                          ("64KB", 65536), ("1M", 1 << 20), ("1MiB", 1 << 20), ("2G", 2 << 30),
                                          (" 4K ", 4096), ("512B", 512)])
def test_documented_spellings_are_read(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["\u0666\u0664K",        # Arabic-Indic 64
                                  "\uff16\uff14K",        # fullwidth 64
                                  "\u0969\u0968",         # Devanagari 32
                                  "64Kb", "64kb", "1Mb", "64b", "64\u00a0K"])
def test_other_digits_and_bits_are_refused_in_one_line(text):
    with pytest.raises(PmcsuiteError, match="invalid size") as caught:
        parse_size(text)
    assert "\n" not in str(caught.value)


def test_a_range_with_fullwidth_digits_is_refused():
    with pytest.raises(PmcsuiteError, match="invalid size"):
        parse_sizes("\uff11K-16M")


def test_cli_refuses_64Kb(cli, tmp_path):
    proc = cli("collect", "--sizes", "64Kb", "--out", str(tmp_path / "r"))
    err = proc.stderr
    assert proc.returncode == 2 and "invalid size '64Kb'" in err and len(err.strip().splitlines()) == 1
