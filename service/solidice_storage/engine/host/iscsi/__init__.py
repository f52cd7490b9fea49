"""iSCSI: discovery, sessions and their node records, through iscsiadm."""
