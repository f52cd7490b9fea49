"""The real engine: LVM, iSCSI, multipath and NFS on this host's kernel."""
