# SPDX-License-Identifier: LGPL-2.1-or-later
"""iSCSI: discovery, sessions and their node records, through iscsiadm."""
