# SPDX-License-Identifier: LGPL-2.1-or-later
"""cli/arguments.py: what a value on the command line may be."""

import argparse

import pytest

from solidice_storage.cli.arguments import (Parser, count, job_number, seconds,
                                            size_argument, whole_seconds)


@pytest.mark.parametrize("check, good, bad", [
    (seconds, {"0.5": 0.5, "300": 300.0}, ["0", "-1", "nan", "inf", "soon", ""]),
    (whole_seconds, {"1": 1, "3600": 3600}, ["0", "-5", "1.5", "x"]),
    (count, {"0": 0, "100": 100}, ["-1", "2.5", "many"]),
    (job_number, {"123456789": 123456789}, ["0", "-3", "abc", "3.0"]),
])
def test_numbers(check, good, bad):
    assert {text: check(text) for text in good} == good
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError):
            check(text)


def test_a_negative_size_is_a_value_the_size_refuses(capsys):
    parser = Parser(prog="p")
    parser.add_argument("--flag", action="store_true")
    parser.add_argument("size", type=size_argument)
    assert parser.parse_args(["1G", "--flag"]).size == 1024**3
    for text in ("-5G", "-1", "-1.5TiB", "-.5M"):
        with pytest.raises(SystemExit):
            parser.parse_args([text])
        assert f"{text!r} is negative" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["-x"])                        # an unknown option still is one
    assert "is negative" not in capsys.readouterr().err
