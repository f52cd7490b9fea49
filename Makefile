# SPDX-License-Identifier: LGPL-2.1-or-later
# solidice-storage. Each target installs the Debian packages it needs first, and
# only those (as root, or with sudo); when none is missing, apt does not run at all.
#   make run-sim     the simulated host on a session bus: python3-venv, dbus, busctl
#   make install     the service on this host: the same, plus the storage tools it runs
#   make unit, dbus  the fast test tiers: the D-Bus test clients too
#   make check       every test tier (the README's test command): the kernel lab too
#   make lab, run, bench   the kernel lab (docs/development.md): QEMU, a kernel, targets

PYTHON   ?= /usr/bin/python3
VENV     ?= .venv
PREFIX   ?= /usr
LIBDIR   ?= $(PREFIX)/lib/solidice-storage
SYSCONFDIR ?= /etc/solidice-storage
STATEDIR ?= /var/lib/solidice-storage
SYSTEMCTL ?= systemctl
SUDO     := $(if $(filter 0,$(shell id -u)),,sudo)

# The virtualenv and the simulated host: the session bus (dbus-daemon) and busctl
# (in Debian's systemd package), which tools/run-sim and the README's tour use.
SIM_PACKAGES := python3-venv dbus systemd

# What the daemon runs on a real host (`make install`): polkit decides who may change
# what; udev reports devices; lvm2, multipath-tools, open-iscsi and nfs-common are
# the tools of each domain. A domain whose tools are left out answers NotSupported:
# `make install HOST_PACKAGES="polkitd udev lvm2"` installs no iSCSI, multipath or NFS.
HOST_PACKAGES := polkitd udev lvm2 multipath-tools open-iscsi nfs-common

# The D-Bus tier: dbus-daemon, busctl and gdbus as clients; python3-dbus and
# python3-gi for python-dbusmock (the venv sees them through --system-site-packages);
# setpriv (util-linux) runs test clients as another uid.
TEST_PACKAGES := dbus-daemon dbus-bin systemd libglib2.0-bin python3-dev python3-dbus \
                 python3-gi util-linux

# The kernel lab (docs/development.md): Debian's kernel under QEMU, and the storage
# stack it tests against. virtme-ng also needs a statically linked busybox (see
# lab-deps).
LAB_PACKAGES := qemu-system-x86 linux-image-amd64 lvm2 multipath-tools open-iscsi \
                python3-rtslib-fb nfs-kernel-server nftables udev polkitd

# `make bench` compares with lvmdbusd and udisks2's LVM2 module, measured in the
# same lab (docs/benchmarks.md); it is not part of `make check`.
# BENCH_ARGS="--lvs 100 --repeats 3 --idle-seconds 10" is a quick run. A full run
# (N = 100, 1,000, 10,000) under TCG takes hours: LAB_TIMEOUT bounds the guest.
BENCH_PACKAGES := lvm2-dbusd udisks2 udisks2-lvm2
BENCH_TIMEOUT  ?= 14400

# $(call apt_install,PACKAGES): installs those of PACKAGES that are missing. apt does
# not run when none is (a second `make run-sim` must not wait for, or fail on, the
# dpkg lock), and --no-remove makes apt stop rather than remove a package the user has.
apt_missing = for p in $(1); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; \
	  done
apt_install = missing=$$($(call apt_missing,$(1))); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-remove $$missing; \
	fi

.PHONY: check test unit imports dbus lab run run-sim bench bench-native bench-deps \
        install uninstall deps sim-deps host-deps test-deps lab-deps lab-packages venv clean

# The prerequisites run in order, one at a time: apt first, then the venv (with -j,
# two apt runs would meet on the dpkg lock).
.NOTPARALLEL:

check: lab-deps
	$(VENV)/bin/python -m pytest -p no:cacheprovider -n auto \
	    --junitxml=test-results/junit.xml tests/unit tests/dbus
	VENV=$(VENV) lab/run

lab: lab-deps
	VENV=$(VENV) lab/run

unit: venv
	$(VENV)/bin/python -m pytest -p no:cacheprovider tests/unit

# The import contracts alone, with import-linter's report (the unit tier runs them
# through tests/unit/test_import_contracts.py).
imports: venv
	$(VENV)/bin/lint-imports --no-cache

dbus: venv
	$(VENV)/bin/python -m pytest -p no:cacheprovider tests/dbus

run: lab-deps
	VENV=$(VENV) LAB_MODE=run lab/run

# The results go to bench/results/<date>-<env>/ (bench.json, bench.md, bench.png),
# also when the run stopped early: the JSON holds what finished.
bench: lab-deps bench-deps
	VENV=$(VENV) LAB_MODE=bench LAB_TIMEOUT=$${LAB_TIMEOUT:-$(BENCH_TIMEOUT)} \
	    lab/run $(BENCH_ARGS); status=$$?; \
	  if [ -f test-results/lab/bench.json ]; then \
	    $(VENV)/bin/python bench/report.py --collect test-results/lab/bench.json; fi; \
	  exit $$status

# On this host, not in the guest: a private bus, a loop device; reads only (no
# device-mapper here), udisks2 not runnable (no udevd).
bench-native: bench-deps
	$(SUDO) $(VENV)/bin/python -m bench --native $(BENCH_ARGS)

bench-deps: venv
	@$(call apt_install,lvm2 $(BENCH_PACKAGES))
	@$(VENV)/bin/python -c 'import matplotlib' 2>/dev/null || \
	  $(VENV)/bin/python -m pip install -q -e '.[test,lab,bench]'

# The simulated host needs the service's own venv only, not the tests'.
run-sim: $(VENV)/.installed
	tools/run-sim $(VENV)

sim-deps:
	@$(call apt_install,$(SIM_PACKAGES))

host-deps:
	@$(call apt_install,$(SIM_PACKAGES) $(HOST_PACKAGES))

test-deps:
	@$(call apt_install,$(SIM_PACKAGES) $(TEST_PACKAGES))

# virtme-ng builds the guest's initramfs around a statically linked busybox. Debian's
# busybox-static package conflicts with busybox: where busybox is installed, its
# static binary is taken out of the package instead (apt-get download, dpkg-deb -x)
# into the venv's bin, where lab/run's PATH lets vng find it; busybox stays.
# lab-packages installs the tests' packages with the lab's, in one apt run.
lab-deps: lab-packages venv
	@if [ -n "$$($(call apt_missing,busybox-static))" ] && \
	    [ ! -x $(VENV)/bin/busybox-static ]; then \
	  echo "busybox is installed: the lab takes busybox-static's binary into $(VENV)/bin"; \
	  dir=$$(mktemp -d) && chown _apt $$dir 2>/dev/null; \
	  (cd $$dir && { apt-get download -qq busybox-static 2>/dev/null || \
	    { $(SUDO) apt-get update -qq && apt-get download -qq busybox-static; }; }) && \
	  dpkg-deb -x $$dir/busybox-static_*.deb $$dir/root && \
	  install -m 755 $$dir/root/bin/busybox $(VENV)/bin/busybox-static; \
	  status=$$?; rm -rf $$dir; exit $$status; \
	fi

lab-packages:
	@busybox_static=$$([ -z "$$($(call apt_missing,busybox))" ] || echo busybox-static); \
	$(call apt_install,$(SIM_PACKAGES) $(TEST_PACKAGES) $(LAB_PACKAGES) $$busybox_static)

# Everything any target installs.
deps: lab-deps host-deps

# The developers' venv: the service, the test tiers and the lab (`make unit`,
# `make dbus`, `make check`). `make run-sim` builds only the first stamp.
venv: test-deps $(VENV)/.installed-test

$(VENV)/.installed: pyproject.toml | sim-deps
	$(PYTHON) -m venv --system-site-packages $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed | test-deps
	$(VENV)/bin/python -m pip install -q -e '.[test,lab]'
	touch $@

# The service's own virtualenv under $(LIBDIR) (dbus-fast >= 5.2 and pydantic 2 are
# newer than Debian 12 ships), the commands where Debian puts them, and the bus,
# polkit and systemd files. Run as root.
install: host-deps
	$(PYTHON) -m venv --clear $(LIBDIR)
	$(LIBDIR)/bin/python -m pip install -q .
	install -d $(PREFIX)/sbin $(PREFIX)/bin
	ln -sf $(LIBDIR)/bin/solidice-storaged $(PREFIX)/sbin/solidice-storaged
	ln -sf $(LIBDIR)/bin/solidice-storagectl $(PREFIX)/bin/solidice-storagectl
	install -D -m 644 dbus-conf/org.solidice.Storage.conf \
	    $(PREFIX)/share/dbus-1/system.d/org.solidice.Storage.conf
	install -D -m 644 dbus-conf/org.solidice.Storage.service \
	    $(PREFIX)/share/dbus-1/system-services/org.solidice.Storage.service
	install -D -m 644 dbus-conf/org.solidice.storage.policy \
	    $(PREFIX)/share/polkit-1/actions/org.solidice.storage.policy
	install -D -m 644 systemd/solidice-storaged.service \
	    $(PREFIX)/lib/systemd/system/solidice-storaged.service
	install -d $(PREFIX)/share/dbus-1/interfaces
	install -m 644 interfaces/*.xml $(PREFIX)/share/dbus-1/interfaces/
	install -D -m 644 etc/storage.conf $(SYSCONFDIR)/storage.conf.example
	[ -e $(SYSCONFDIR)/storage.conf ] || \
	    install -m 644 etc/storage.conf $(SYSCONFDIR)/storage.conf
	if [ -d /run/systemd/system ]; then $(SYSTEMCTL) daemon-reload; fi

# Removes what `make install` put in place; the state directory ($(STATEDIR): the
# persistent NFS mounts, the intent records of unfinished changes) and the
# configuration stay, as a Debian package's remove leaves them. PURGE=1 removes them
# too, but never while anything is mounted below the state directory (rm would
# descend into the mount).
uninstall:
	@if [ -n "$(PURGE)" ] && findmnt -rn -o TARGET | grep -q '^$(STATEDIR)/'; then \
	  echo "uninstall: something is mounted below $(STATEDIR); unmount it first:"; \
	  findmnt -rn -o TARGET | grep '^$(STATEDIR)/'; exit 1; fi
	if [ -d /run/systemd/system ]; then \
	    $(SYSTEMCTL) disable --now solidice-storaged.service 2>/dev/null || true; fi
	rm -rf $(LIBDIR)
	rm -f $(PREFIX)/sbin/solidice-storaged $(PREFIX)/bin/solidice-storagectl \
	    $(PREFIX)/share/dbus-1/system.d/org.solidice.Storage.conf \
	    $(PREFIX)/share/dbus-1/system-services/org.solidice.Storage.service \
	    $(PREFIX)/share/polkit-1/actions/org.solidice.storage.policy \
	    $(PREFIX)/lib/systemd/system/solidice-storaged.service \
	    $(PREFIX)/share/dbus-1/interfaces/org.solidice.Storage.*.xml \
	    $(SYSCONFDIR)/storage.conf.example
	$(if $(PURGE),rm -rf --one-file-system $(STATEDIR) $(SYSCONFDIR))
	if [ -d /run/systemd/system ]; then $(SYSTEMCTL) daemon-reload; fi

clean:
	rm -rf $(VENV) test-results build *.egg-info service/*.egg-info
