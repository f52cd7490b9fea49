# SPDX-License-Identifier: LGPL-2.1-or-later
"""`python -m solidice_storage.cli`: the same as `solidice-storagectl`."""

from .main import main

main()
