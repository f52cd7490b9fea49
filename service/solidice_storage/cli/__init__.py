"""solidice-storagectl: the command line over org.solidice.Storage, on the client.

`main.py` runs it (exit codes, the one error boundary), `parser.py` declares the
commands as data, one module per level holds that level's actions (`host.py`,
`lun.py`, `iscsi.py`, `volume_group.py`, `physical_volume.py`, `logical_volume.py`,
`nfs.py`, `job.py`), `output.py` and `format.py` what they print.
"""
