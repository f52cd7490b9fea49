# SPDX-License-Identifier: LGPL-2.1-or-later
"""LUNs: the block devices this host sees, their paths and identities."""
