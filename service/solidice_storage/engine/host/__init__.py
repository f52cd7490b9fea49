# SPDX-License-Identifier: LGPL-2.1-or-later
"""The real engine: LVM, iSCSI, multipath and NFS on this host's kernel."""
