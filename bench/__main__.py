# SPDX-License-Identifier: LGPL-2.1-or-later
"""`python -m bench`: see the package's docstring."""

import sys

from .cli import main

sys.exit(main())
