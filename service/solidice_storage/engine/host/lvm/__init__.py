"""LVM: volume groups, physical and logical volumes, through the LVM commands."""
