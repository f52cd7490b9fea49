# SPDX-License-Identifier: LGPL-2.1-or-later
"""actions.py and dbus-conf/org.solidice.storage.policy name the same actions."""

import ast
import xml.etree.ElementTree as ET
from pathlib import Path

from solidice_storage import actions

TOP = Path(__file__).resolve().parents[2]
POLICY = TOP / "dbus-conf/org.solidice.storage.policy"


def policy_actions() -> dict[str, dict[str, str]]:
    tree = ET.parse(POLICY)
    return {action.get("id"): {d.tag: d.text for d in action.find("defaults")}
            for action in tree.getroot().iter("action")}


def test_every_action_used_is_in_the_policy_file():
    assert actions.ALL <= set(policy_actions())


def test_the_policy_file_has_no_action_the_code_does_not_use():
    assert set(policy_actions()) <= actions.ALL


def test_every_action_the_adapters_name_is_a_constant():
    """Adapters refer to actions.X only; each X exists (no stray string ids)."""
    for module in (TOP / "service/solidice_storage/dbus").glob("*.py"):
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id == "actions":
                assert hasattr(actions, node.attr), f"{module.name}: actions.{node.attr}"
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not node.value.startswith(actions.PREFIX), \
                    f"{module.name} spells out {node.value}; use actions.py"


def test_defaults_match_the_design():
    defaults = {name: d["allow_active"] for name, d in policy_actions().items()}
    assert defaults == {
        actions.MANAGE_LVM: "auth_admin_keep", actions.REMOVE: "auth_admin",
        actions.ISCSI: "auth_admin_keep", actions.MOUNT_NFS: "auth_admin_keep",
        actions.CANCEL_JOB: "yes", actions.CANCEL_JOB_OTHER_USER: "auth_admin_keep"}
    assert all(d["allow_any"] != "yes" for name, d in policy_actions().items()
               if name != actions.CANCEL_JOB)
