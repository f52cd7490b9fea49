"""LIO iSCSI targets for the kernel lab, through rtslib (targetcli's one-shot
commands fail in the guest). A script, run in its own process: rtslib leaks a lock
file and uses deprecated calls, which the lab suite's strict warnings would refuse.

    iscsi_targets.py setup TARGET:LUNS[:chap] ... --portals A,B,C --user U --password P
    iscsi_targets.py clear
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
                                          size=args.size_mib * MiB)
            LUN(tpg, number, storage)
            wwns.setdefault(name, []).append(storage.wwn)
        for address in args.portals.split(","):
            NetworkPortal(tpg, address, 3260)
        tpg.enable = True
    return wwns


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=("setup", "clear"))
    parser.add_argument("targets", nargs="*", help="IQN:LUNS or IQN:LUNS:chap")
    parser.add_argument("--portals", default="127.0.0.1")
    parser.add_argument("--user", default="")
    parser.add_argument("--password", default="")
    parser.add_argument("--directory", default="/srv/lab")
    parser.add_argument("--size-mib", type=int, default=64)
    args = parser.parse_args()
    if args.action == "setup":
        print(json.dumps(setup(args)))
    else:
        from rtslib_fb import RTSRoot
        RTSRoot().clear_existing(confirm=True)


if __name__ == "__main__":
    main()
