# SPDX-License-Identifier: LGPL-2.1-or-later
"""Thin D-Bus adapters over the engine: validate, authorize, delegate, convert."""
