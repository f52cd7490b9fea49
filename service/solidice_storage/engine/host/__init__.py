"""The real engine: LVM, iSCSI, multipath and NFS on this host's kernel."""

# Transitional (issue 17): validation first, so that importing a host module that
# imports options.py first does not meet their import cycle half-done; goes with
# validation's dict form.
from ... import validation  # noqa: F401
