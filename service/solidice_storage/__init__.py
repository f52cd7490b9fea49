# SPDX-License-Identifier: LGPL-2.1-or-later
"""org.solidice.Storage: a host's storage (LUNs, iSCSI, LVM, NFS) over D-Bus."""

__version__ = "0.2.0"
