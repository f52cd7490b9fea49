# SPDX-License-Identifier: LGPL-2.1-or-later
"""LVM: volume groups, physical and logical volumes, through the LVM commands."""
