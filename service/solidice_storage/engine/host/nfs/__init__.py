# SPDX-License-Identifier: LGPL-2.1-or-later
"""NFS mounts: mounting, keeping and recovering them."""
