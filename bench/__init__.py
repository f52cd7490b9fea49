# SPDX-License-Identifier: LGPL-2.1-or-later
"""LVM at scale: our service next to raw `lvm`, lvmdbusd and udisks2 (LVM2 module).

How to run it: `make bench` (in the lab guest, N = 100, 1,000 and 10,000 in one
boot) or `make bench-native` (on this host: no device-mapper, so reads only). By
hand, from the top of the checkout, inside the lab guest as root after
`python -m lab.host up`:

    python -m bench [--lvs 100,1000] [--repeats R] [--idle-seconds S]
    python -m bench --native --lvs 100,1000      # on a host, as root

`python` must be the project's virtualenv: the daemon is started from its bin
directory, as lab/host.py starts it.

For each N: build VG `benchvg` once (a loop device over a sparse file in /tmp, N
inactive one-extent LVs loaded by vgcfgrestore), time the raw commands, then each
service alone on the machine, one after the other on the same VG: start-up,
GetManagedObjects, listing the VG's LVs, a property read, create / extend / remove
(not natively), an LV made outside with `lvcreate` until its InterfacesAdded, idle
CPU, memory, and the `lvm` processes each read and change starts (BSD process
accounting, bench/acct.py). Set up as the anchor measurements were: no
service can be D-Bus-activated behind the bench's back. Every wait is bounded; the
JSON is rewritten after every phase, so a killed run keeps what finished.
bench/report.py makes the markdown table and the chart from the JSON.

The parts: `cli.py` (the command line), `run.py` (the whole run), `measure.py` (one
service), `services.py` (what differs between the three), `raw.py` (raw commands),
`vg.py` (the bench VG), `bus.py` (D-Bus calls and watches), `isolation.py` (nothing
else running), `environment.py`, `common.py`; `acct.py` counts `lvm` processes,
`report.py` turns the JSON into tables and a chart.
"""
