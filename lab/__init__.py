# SPDX-License-Identifier: LGPL-2.1-or-later
"""The kernel lab: what builds the lab host inside the guest (`host.py`), shared by
the lab tests (tests/lab), the walk-through (`walkthrough.py`) and the bench."""
