"""cli/parser.py: the command table built into argparse by one function."""

import argparse

import pytest

from solidice_storage.cli.parser import (COMMANDS, Command, Level, arg, build_parser,
                                         grow_argument, nfs_option, size_argument)


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
    assert nfs_option("timeo", "u")[1]["type"] is int
    args = build_parser().parse_args(["nfs", "mount", "s:/e", "/mnt", "--vers", "4.2",
                                      "--hard", "--timeo", "600"])
    assert (args.nfs_vers, args.nfs_hard, args.nfs_timeo) == ("4.2", True, 600)


def test_sizes_on_the_command_line():
    assert size_argument("10G") == 10 * 1024**3
    assert grow_argument("+5G") == (5 * 1024**3, None)
    assert grow_argument("20G") == (0, 20 * 1024**3)
    with pytest.raises(argparse.ArgumentTypeError, match="is not a size"):
        size_argument("ten")
