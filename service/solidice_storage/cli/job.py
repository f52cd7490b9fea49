# SPDX-License-Identifier: LGPL-2.1-or-later
"""`job`: the running jobs."""

from .output import Output, call_options, done, listing


async def job_list(storage, args) -> Output:
    return listing(await storage.jobs(), ["ID", "OPERATION", "PROGRESS", "UID",
                                          "CANCELABLE"],
                   lambda j: [j.id, j.operation, f"{j.progress:.0%}", j.started_by_uid,
                              "yes" if j.cancelable else "no"])


async def job_cancel(storage, args) -> Output:
    job = await storage.job(args.job)
    await job.cancel(**call_options(args))
    return done(None, f"asked job {job.id} ({job.operation}) to stop")
