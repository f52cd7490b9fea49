# SPDX-License-Identifier: LGPL-2.1-or-later
"""cli/iscsi.py: the CHAP secret stays off the command line."""

import argparse
import io

from solidice_storage.cli.iscsi import chap_password


def args(username, password):
    return argparse.Namespace(username=username, password=password)


def test_a_given_password_or_none_without_a_user():
    assert chap_password(args("u", "secret")) == "secret"
    assert chap_password(args(None, None)) is None


def test_a_user_without_a_password_reads_it_from_standard_input(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("piped secret\n"))
    assert chap_password(args("u", None)) == "piped secret"
    monkeypatch.setattr("sys.stdin", io.StringIO("dash\n"))
    assert chap_password(args("u", "-")) == "dash"
