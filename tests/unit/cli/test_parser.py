# SPDX-License-Identifier: LGPL-2.1-or-later
"""cli/parser.py: the command table built into argparse by one function; every
method of the contract reachable from it."""

import argparse
import re
from pathlib import Path

import pytest

from solidice_storage.cli.arguments import count, whole_seconds
from solidice_storage.cli.completion import command_words, completion_script
from solidice_storage.cli.parser import (COMMANDS, Command, Level, arg, build_parser,
                                         grow_argument, nfs_option, sentence,
                                         size_argument)

INTERFACES = Path(__file__).resolve().parents[3] / "interfaces"


def run_me(storage, args):
    return None


def test_a_table_becomes_nouns_verbs_and_their_arguments():
    table = {"top": Command(run_me, "do it at once", "top"),
             "thing": Level("things", "thing list", {
                 "make": Command(run_me, "make a thing", "thing make t0 1G",
                                 (arg("name"), arg("size", type=size_argument))),
             })}
    parser = build_parser(table)
    args = parser.parse_args(["--json", "thing", "make", "t0", "1G"])
    assert (args.command, args.verb, args.name, args.size) == ("thing", "make", "t0", 1024**3)
    assert args.run is run_me and args.json
    assert parser.parse_args(["top"]).run is run_me
    with pytest.raises(SystemExit):
        parser.parse_args(["thing"])                    # a level needs its verb


def test_every_verb_has_its_run_and_help_says_it_with_an_example():
    parser = build_parser()
    for name, entry in COMMANDS.items():
        verbs = entry.verbs.items() if isinstance(entry, Level) else [(None, entry)]
        for verb, command in verbs:
            assert command.example and command.help[0].islower()
            assert (command.run is None) == (name == "completion"), (name, verb)
    assert "Exit codes: 0 done" in parser.format_help()


def test_mount_options_become_flags_of_their_type():
    flags, options = nfs_option("create-mountpoint", "b")
    assert flags == ("--create-mountpoint",) and options["action"] == "store_true"
    assert options["dest"] == "nfs_create_mountpoint"
    assert nfs_option("vers", "s")[1]["type"] is str
    assert nfs_option("timeo", "u")[1]["type"] is count
    assert nfs_option("timeout", "u")[1]["type"] is whole_seconds
    args = build_parser().parse_args(["nfs", "mount", "s:/e", "/mnt", "--vers", "4.2",
                                      "--hard", "--timeo", "600"])
    assert (args.nfs_vers, args.nfs_hard, args.nfs_timeo) == ("4.2", True, 600)


def test_sizes_on_the_command_line():
    assert size_argument("10G") == 10 * 1024**3
    assert grow_argument("+5G") == (5 * 1024**3, None)
    assert grow_argument("20G") == (0, 20 * 1024**3)
    with pytest.raises(argparse.ArgumentTypeError, match="is not a size"):
        size_argument("ten")


def usage_error(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(list(argv))
    assert exited.value.code == 2
    return capsys.readouterr().err


def test_negative_sizes_are_refused_as_sizes_not_read_as_options(capsys):
    assert "'-5G' is negative" in usage_error(capsys, "lv", "create", "vg0", "d", "-5G")
    assert "'-1' is negative" in usage_error(capsys, "lv", "snapshot", "vg0/d", "s", "-1")
    assert "required" not in usage_error(capsys, "lv", "extend", "vg0/d", "-1.5TiB")


def test_numbers_out_of_range_are_usage_errors(capsys):
    assert "not a job number" in usage_error(capsys, "job", "cancel", "abc")
    assert "not a job number" in usage_error(capsys, "job", "cancel", "0")
    for value in ("0", "-1", "soon"):
        assert "above 0" in usage_error(capsys, "--timeout", value, "status")
        assert "at least 1" in usage_error(capsys, "iscsi", "discover", "p",
                                           "--timeout", value)
    assert "0 or more" in usage_error(capsys, "nfs", "mount", "s:/e", "/m", "--retry",
                                      "-1")
    assert build_parser().parse_args(["job", "cancel", "12"]).job == 12


def test_global_options_also_after_the_command():
    parser = build_parser()
    args = parser.parse_args(["lv", "list", "--session", "--json", "--timeout", "5"])
    assert (args.session, args.json, args.call_timeout) == (True, True, 5.0)
    assert parser.parse_args(["--json", "lv", "list"]).json
    assert not parser.parse_args(["lv", "list"]).json
    # A command's own --timeout keeps its meaning there.
    args = parser.parse_args(["iscsi", "discover", "p", "--timeout", "7"])
    assert (args.timeout, args.call_timeout) == (7, None)


def test_version(capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--version"])
    assert exited.value.code == 0
    assert re.fullmatch(r"solidice-storagectl \d+\.\d+\.\d+\n", capsys.readouterr().out)


def test_help_sentences_keep_their_spelling():
    assert sentence("iSCSI targets and sessions") == "iSCSI targets and sessions."
    assert sentence("LUNs (multipath maps)") == "LUNs (multipath maps)."
    assert sentence("list the LUNs") == "List the LUNs."
    assert "iSCSI targets" in build_parser().format_help()


def test_every_nfs_mount_option_says_what_it_is_and_its_unit():
    mount = build_parser()._subparsers._group_actions[0].choices["nfs"]
    mount = mount._subparsers._group_actions[0].choices["mount"]
    text = mount.format_help()
    for action in mount._actions:
        assert action.help, action.option_strings
    for unit in ("deciseconds", "minutes", "bytes per read", "seconds the whole call"):
        assert unit in " ".join(text.split())


def contract_methods() -> set[str]:
    """Every method of interfaces/*.xml, as Interface.Member."""
    found = set()
    for xml in INTERFACES.glob("org.solidice.Storage.*.xml"):
        interface = xml.name.removeprefix("org.solidice.Storage.").removesuffix(".xml")
        found |= {f"{interface}.{name}"
                  for name in re.findall(r'<method name="(\w+)"', xml.read_text())}
    return found


def test_every_method_of_the_contract_is_a_verb():
    reached = {method for entry in COMMANDS.values()
               for command in (entry.verbs.values() if isinstance(entry, Level) else [entry])
               for method in command.methods}
    methods = contract_methods()
    assert len(methods) >= 26
    assert methods - reached == set(), "methods no command reaches"
    assert reached - methods == set(), "commands naming methods the contract lacks"


def test_completion_knows_the_resize_rename_and_tag_verbs():
    words = command_words(build_parser())
    assert {"resize", "rename"} <= set(words["lv"]) and "rename" in words["vg"]
    assert {"add", "remove"} <= set(words["tag"]) and "tag" in words[""]
    assert {"lv", "pv", "vg", "--non-interactive"} <= set(words["tag add"])
    assert "--shrink" in words["lv resize"]
    for shell in ("bash", "zsh"):
        script = completion_script(build_parser(), shell)
        assert '"tag remove")' in script and '"lv resize")' in script
