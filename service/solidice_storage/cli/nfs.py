"""`nfs`: NFS mounts."""

from .. import options as typed_options
from .output import Output, call_options, done, listing, with_progress


NFS_OPTIONS = {key: signature for key, signature in typed_options.signatures("MountNfs").items()
               if key != typed_options.AUTH_KEY}
"""MountNfs's options by key, with their D-Bus signature: each is a flag of
`nfs mount`."""


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
