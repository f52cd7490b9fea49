"""NFS mounts: mounting, keeping and recovering them."""
