"""Thin D-Bus adapters over the engine: validate, authorize, delegate, convert."""
