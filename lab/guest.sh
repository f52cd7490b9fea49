#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Inside the lab guest: the lab suite, the `make run` walk-through, `make bench`, or
# a shell. Arguments: suite|run|bench|shell RESULTS VENV yes|no (interactive); pytest's own
# arguments are in RESULTS/pytest-args, NUL-separated.
mode=$1 results=$2 venv=$3 interactive=$4
mapfile -d '' args < "$results/pytest-args"
top=$(cd "$(dirname "$0")/.." && pwd)
date +%s > "$results/guest-start"
export PATH="$venv/bin:/usr/sbin:/usr/bin:/sbin:/bin" PYTHONDONTWRITEBYTECODE=1
export LAB_RESULTS="$results" LAB_TOP="$top"
cd "$top"
if [ "$mode" != suite ]; then
    echo "lab: bringing the lab host up (LIO, iscsid, multipathd, LVM, nfsd, dbus, polkitd, solidice-storaged)"
    "$venv/bin/python" -m lab.host up || { echo 1 > "$results/status"; exit 1; }
    status=0
    if [ "$mode" = run ]; then
        "$venv/bin/python" -m lab.walkthrough 2>&1 | tee "$results/walkthrough.log"
        status=${PIPESTATUS[0]}
    elif [ "$mode" = bench ]; then
        "$venv/bin/python" -m bench "${args[@]}" 2>&1 \
            | tee "$results/bench.log"
        status=${PIPESTATUS[0]}
    fi
    echo "$status" > "$results/status"
    if [ "$interactive" = yes ]; then
        cat <<'TEXT'

You are root in the lab host. Try:
  busctl tree org.solidice.Storage          solidice-storagectl status
  multipath -ll      iscsiadm -m session    lvs      cat /proc/self/mountinfo
  setpriv --reuid=solidicelab --regid=solidicelab --init-groups -- busctl ...  (as the test user)
Logs are in the lab results' logs/ folder. Leave with exit.
TEXT
        cd /tmp && bash -i
    fi
    exit 0
fi
# The checkout is read-only in the guest: no cache, no bytecode. The per-test bound
# is larger than tiers 1 and 2's: the first test also waits for the lab host to come
# up, about a minute under emulation; lab/run bounds the whole guest anyway.
"$venv/bin/python" -m pytest -p no:cacheprovider --timeout=600 --junitxml="$results/junit.xml" \
    -o junit_suite_name=lab tests/lab "${args[@]}" > "$results/pytest.log" 2>&1
echo $? > "$results/status"
dmesg > "$results/logs/dmesg.log" 2>&1
