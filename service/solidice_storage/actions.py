# SPDX-License-Identifier: LGPL-2.1-or-later
"""polkit action ids, one constant each; `dbus-conf/org.solidice.storage.policy`
defines them (a test holds the two together)."""

PREFIX = "org.solidice.storage."
MANAGE_LVM = PREFIX + "manage-lvm"            # create, grow, snapshot, activate, rename, tag
REMOVE = PREFIX + "remove"                    # destroys data (a shrink too)
ISCSI = PREFIX + "iscsi"                      # discovery, login, logout, rescan
MOUNT_NFS = PREFIX + "mount-nfs"              # mount and unmount
CANCEL_JOB = PREFIX + "cancel-job"            # the caller's own job
CANCEL_JOB_OTHER_USER = PREFIX + "cancel-job-other-user"

ALL = frozenset({MANAGE_LVM, REMOVE, ISCSI, MOUNT_NFS, CANCEL_JOB, CANCEL_JOB_OTHER_USER})
