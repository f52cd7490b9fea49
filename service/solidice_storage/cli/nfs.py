# SPDX-License-Identifier: LGPL-2.1-or-later
"""`nfs`: NFS mounts."""

from .. import options as typed_options
from .output import Output, call_options, done, listing, with_progress


NFS_OPTIONS = {key: signature for key, signature in typed_options.signatures("MountNfs").items()
               if key != typed_options.AUTH_KEY}
"""MountNfs's options by key, with their D-Bus signature: each is a flag of
`nfs mount`."""

NFS_HELP = {
    "vers": "NFS version: 3, 4, 4.0, 4.1 or 4.2",
    "timeo": "deciseconds to wait for each try, 1 to 6000 (default 100)",
    "retrans": "tries before a soft mount fails a request, 0 to 100 (default 3)",
    "retry": "minutes mount keeps trying, 0 to 10000 (default 1)",
    "hard": "retry a request forever (a hard mount) instead of failing it (soft)",
    "ro": "mount read-only",
    "proto": "transport: tcp or rdma",
    "port": "the server's NFS port number (default: the one the server names)",
    "sec": "security flavour: sys, krb5, krb5i or krb5p",
    "rsize": "bytes per read request, 1024 to 1048576",
    "wsize": "bytes per write request, 1024 to 1048576",
    "nolock": "no NLM locking",
    "persistent": "keep the mount across restarts and reboots until unmounted",
    "create-mountpoint": "create LOCAL_PATH (and missing parents, 0755, root's); "
                         "removed again if the mount fails",
    "timeout": "seconds the whole call may take, 1 to 3600 (default 90)",
}
"""The help of each `nfs mount` flag, with its unit (docs/api.md, Options). The
defaults are the service's unless storage.conf's [nfs] section sets others."""

NFS_UNITS = {"timeo": "DECISECONDS", "retrans": "TRIES", "retry": "MINUTES",
             "rsize": "BYTES", "wsize": "BYTES", "timeout": "SECONDS"}
"""The metavar of the `nfs mount` flags that take a number of something."""


async def nfs_list(storage, args) -> Output:
    return listing(await storage.mounts(), ["LOCAL PATH", "SERVER", "REMOTE PATH",
                                            "PERSISTENT", "OPTIONS"],
                   lambda m: [m.local_path, m.server, m.remote_path,
                              "yes" if m.persistent else "no", m.options])


async def nfs_mount(storage, args) -> Output:
    server, _, remote = args.source.rpartition(":")
    if not server or not remote:
        raise ValueError(f"{args.source!r} is not SERVER:PATH")
    given = {key.replace("-", "_"): getattr(args, "nfs_" + key.replace("-", "_"))
             for key in NFS_OPTIONS}
    given = {k: (None if v is False else v) for k, v in given.items()}
    mount = await with_progress(storage, "nfs-mount", storage.mount_nfs(
        server, remote, args.local_path,
        **given, **call_options(args)))
    return done(mount, f"mounted {mount.server}:{mount.remote_path} on {mount.local_path} "
                       f"({mount.options})")


async def nfs_unmount(storage, args) -> Output:
    await storage.unmount(args.local_path, args.force, **call_options(args))
    return done(None, f"unmounted {args.local_path}")
