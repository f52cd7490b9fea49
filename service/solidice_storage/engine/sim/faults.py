# SPDX-License-Identifier: LGPL-2.1-or-later
"""--sim-fault: operations made to fail as a bug would, to test the bus layer."""


class Faults:
    """The operations to fail; none fail until `arm` (seeding uses them too)."""

    def __init__(self, operations: frozenset[str] = frozenset()) -> None:
        self._operations = operations
        self._armed = False

    def arm(self) -> None:
        self._armed = True

    def check(self, operation: str) -> None:
        """RuntimeError if `operation` is to fail and the faults are armed."""
        if self._armed and operation in self._operations:
            raise RuntimeError(f"injected fault in {operation}")
