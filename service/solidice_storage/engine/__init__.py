# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the host can do. No D-Bus in here: the `dbus` package calls these."""
