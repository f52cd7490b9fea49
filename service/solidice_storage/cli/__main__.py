"""`python -m solidice_storage.cli`: the same as `solidice-storagectl`."""

from .main import main

main()
