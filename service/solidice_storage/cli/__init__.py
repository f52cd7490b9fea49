# SPDX-License-Identifier: LGPL-2.1-or-later
"""solidice-storagectl: the command line over org.solidice.Storage, on the client.

`main.py` runs it (exit codes, the one error boundary; `bus.py` finds the bus and
puts the service's messages in the command's words), `parser.py` declares the
commands as data (`arguments.py`: what a value may be), one module per level holds
that level's actions (`host.py`, `lun.py`, `iscsi.py`, `volume_group.py`,
`physical_volume.py`, `logical_volume.py`, `nfs.py`, `job.py`), `output.py` and
`format.py` what they print, `changes.py` how `monitor` tells a change, and
`completion.py` the bash and zsh completion.
"""
