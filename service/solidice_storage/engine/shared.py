"""Rules both engines follow that are not argument syntax."""

from ..validation import Options

# Fail in about a minute when a server dies, not twenty (DESIGN.md: vdsm's old
# timeo=600,retrans=6 took 21 minutes): soft, 10 s per try, 3 retransmissions.
NFS_DEFAULTS = {"timeo": 100, "retrans": 3, "retry": 1}
NFS_MOUNT_TIMEOUT = 90       # seconds the whole MountNfs may take, by default
ISCSI_TIMEOUT = 120          # seconds a login may take, by default
DISCOVERY_TIMEOUT = 30       # seconds a whole iSCSI discovery may take, by default


def nfs_mount_options(opts: Options) -> str:
    """The `-o` string for mount.nfs: nosuid,nodev always; typed options only."""
    parts = ["nosuid", "nodev", "ro" if opts.get("ro") else "rw",
             "hard" if opts.get("hard") else "soft"]
    for key in ("vers", "proto", "port", "sec", "rsize", "wsize"):
        if key in opts:
            parts.append(f"{key}={opts[key]}")
    for key, default in NFS_DEFAULTS.items():
        parts.append(f"{key}={opts.get(key, default)}")
    if opts.get("nolock"):
        parts.append("nolock")
    return ",".join(parts)


def wwid_candidates(ref: str) -> list[str]:
    """The WWIDs a reference may mean: as given, and the `naa.`/`0x`/`eui.`
    spellings turned into the form scsi_id and multipathd print."""
    lower = ref.lower()
    for prefix, designator in (("naa.", "3"), ("0x", "3"), ("eui.", "2")):
        if lower.startswith(prefix):
            return [ref, lower, designator + lower[len(prefix):]]
    return [ref]
