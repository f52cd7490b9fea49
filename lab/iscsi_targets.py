# SPDX-License-Identifier: LGPL-2.1-or-later
"""LIO iSCSI targets for the kernel lab, through rtslib (targetcli's one-shot
commands fail in the guest). A script, run in its own process: rtslib leaks a lock
file and uses deprecated calls, which the lab suite's strict warnings would refuse.

    iscsi_targets.py setup TARGET:LUNS[:chap] ... --portals A,B,C --user U --password P
                                                  [--wwn W]  (LUN 0's WWN; random without)
    iscsi_targets.py clear
    iscsi_targets.py add-lun TARGET NUMBER --size-mib N     (prints the new LUN's WWN)
    iscsi_targets.py remove-lun TARGET NUMBER
    iscsi_targets.py grow NAME --size-mib N     (the backing file and LIO's idea of it)
    iscsi_targets.py remove-target TARGET       (gone from the array, LUNs and all)
"""

import argparse
import json

MiB = 1024**2


def setup(args: argparse.Namespace) -> dict[str, list[str]]:
    from rtslib_fb import FabricModule, FileIOStorageObject, LUN, NetworkPortal, TPG, Target
    iscsi = FabricModule("iscsi")
    wwns: dict[str, list[str]] = {}
    for spec in args.targets:
        name, count, *flags = spec.rsplit(":", 2) if spec.endswith(":chap") else (
            *spec.rsplit(":", 1),)
        chap = bool(flags)
        tpg = TPG(Target(iscsi, name), 1)
        tpg.set_attribute("authentication", "1" if chap else "0")
        for attribute in ("generate_node_acls", "cache_dynamic_acls"):
            tpg.set_attribute(attribute, "1")
        tpg.set_attribute("demo_mode_write_protect", "0")
        if chap:
            tpg.chap_userid, tpg.chap_password = args.user, args.password
        short = name.rsplit(":", 1)[1]
        for number in range(int(count)):
            storage = FileIOStorageObject(f"{short}{number}",
                                          f"{args.directory}/{short}{number}.img",
                                          size=args.size_mib * MiB,
                                          wwn=args.wwn if number == 0 else None)
            LUN(tpg, number, storage)
            wwns.setdefault(name, []).append(storage.wwn)
        for address in args.portals.split(","):
            NetworkPortal(tpg, address, 3260)
        tpg.enable = True
    return wwns


def _tpg(target: str):
    from rtslib_fb import FabricModule, TPG, Target
    return TPG(Target(FabricModule("iscsi"), target, mode="lookup"), 1, mode="lookup")


def add_lun(args: argparse.Namespace) -> str:
    """A LUN mapped on a live target, as an array administrator adds one."""
    from rtslib_fb import FileIOStorageObject, LUN
    target, number = args.targets
    name = f"{target.rsplit(':', 1)[1]}{number}"
    storage = FileIOStorageObject(name, f"{args.directory}/{name}.img",
                                  size=args.size_mib * MiB)
    LUN(_tpg(target), int(number), storage)
    return storage.wwn


def remove_lun(args: argparse.Namespace) -> None:
    from rtslib_fb import LUN
    target, number = args.targets
    lun = LUN(_tpg(target), int(number))
    storage = lun.storage_object
    lun.delete()
    storage.delete()


def remove_target(args: argparse.Namespace) -> None:
    """A target deleted on the array, with its LUNs' storage: sessions to it lose
    their connection and cannot log in again."""
    from rtslib_fb import FabricModule, Target
    (name,) = args.targets
    target = Target(FabricModule("iscsi"), name, mode="lookup")
    storage = [lun.storage_object for tpg in target.tpgs for lun in tpg.luns]
    target.delete()
    for item in storage:
        item.delete()


def grow(args: argparse.Namespace) -> None:
    """A LUN grown on the array: the backing file, then LIO's size for it (a FILEIO
    object on a regular file keeps the size it was given, until told)."""
    import glob
    import os
    (name,) = args.targets
    (control,) = glob.glob(f"/sys/kernel/config/target/core/fileio_*/{name}/control")
    os.truncate(f"{args.directory}/{name}.img", args.size_mib * MiB)
    with open(control, "w") as handle:
        handle.write(f"fd_dev_size={args.size_mib * MiB}\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=("setup", "clear", "add-lun", "remove-lun",
                                           "grow", "remove-target"))
    parser.add_argument("targets", nargs="*", help="IQN:LUNS or IQN:LUNS:chap")
    parser.add_argument("--portals", default="127.0.0.1")
    parser.add_argument("--user", default="")
    parser.add_argument("--password", default="")
    parser.add_argument("--directory", default="/srv/lab")
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--wwn", default=None, help="LUN 0's WWN (a fixed WWID)")
    args = parser.parse_args()
    if args.action == "setup":
        print(json.dumps(setup(args)))
    elif args.action == "add-lun":
        print(add_lun(args))
    elif args.action == "remove-lun":
        remove_lun(args)
    elif args.action == "grow":
        grow(args)
    elif args.action == "remove-target":
        remove_target(args)
    else:
        from rtslib_fb import RTSRoot
        RTSRoot().clear_existing(confirm=True)


if __name__ == "__main__":
    main()
