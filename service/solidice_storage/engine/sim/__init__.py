# SPDX-License-Identifier: LGPL-2.1-or-later
"""The simulated engine: the same operations over an in-memory host, for trial and the D-Bus tier."""
