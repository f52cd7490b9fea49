# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tags on the handles of volume groups, logical volumes and physical volumes:
`tags` (from the model) and `add_tags` / `remove_tags`."""

from typing import Any

from . import arguments as check
from . import convert


class Tagged:
    """Mixed into the VG, LV and PV handles (objects.py)."""

    async def add_tags(self, tags: list[str], *, no_user_interaction: bool | None = None,
                       call_timeout: float | None = None) -> None:
        """Add `tags` (LVM's tag syntax; a tag already there is left alone). The
        service's own tag, "org.solidice.storage", is refused."""
        await self._tags("AddTags", tags, no_user_interaction, call_timeout)

    async def remove_tags(self, tags: list[str], *, no_user_interaction: bool | None = None,
                          call_timeout: float | None = None) -> None:
        """Remove `tags` (a tag not there is no error); never the service's own."""
        await self._tags("RemoveTags", tags, no_user_interaction, call_timeout)

    async def _tags(self, member: str, tags: Any, no_user_interaction: bool | None,
                    call_timeout: float | None) -> None:
        opts = convert.options(member, no_user_interaction=no_user_interaction)
        await self._call(member, "asa{sv}", check.texts(tags, "tags"), opts,
                         call_timeout=call_timeout)
