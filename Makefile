# solidice-storage: `make check` runs every test tier (the README's test command):
# unit (the import contracts of pyproject.toml's [tool.importlinter] included),
# D-Bus, and the kernel lab. `make run` starts the daemon on real devices inside the
# lab guest; `make run-sim` serves the simulated host on a session bus.
# All of them install what they need first (Debian/Ubuntu, as root, or with sudo).

PYTHON   ?= /usr/bin/python3
VENV     ?= .venv
PREFIX   ?= /usr
LIBDIR   ?= $(PREFIX)/lib/solidice-storage
SUDO     := $(if $(filter 0,$(shell id -u)),,sudo)

# The kernel lab (docs/lab.md): a distro kernel under QEMU, and the storage stack it
# tests against.
LAB_PACKAGES := qemu-system-x86 linux-image-amd64 lvm2 multipath-tools open-iscsi \
                python3-rtslib-fb nfs-kernel-server nftables udev polkitd busybox-static

# dbus-daemon, busctl and gdbus for the tests; python3-dbus and python3-gi for
# python-dbusmock (the venv sees them through --system-site-packages); setpriv
# (util-linux) runs test clients as another uid.
APT_PACKAGES := dbus-daemon dbus-bin systemd libglib2.0-bin python3-venv python3-dev \
                python3-dbus python3-gi util-linux \
                $(LAB_PACKAGES)

# `make bench` compares with lvmdbusd and udisks2's LVM2 module, measured in the
# same lab (docs/benchmarks.md); it is not part of `make check`.
# BENCH_ARGS="--lvs 100 --repeats 3 --idle-seconds 10" is a quick run. A full run
# (N = 100, 1,000, 10,000) under TCG takes hours: LAB_TIMEOUT bounds the guest.
BENCH_PACKAGES := lvm2-dbusd udisks2 udisks2-lvm2
BENCH_TIMEOUT  ?= 14400

.PHONY: check test unit imports dbus lab run run-sim bench bench-native bench-deps install uninstall deps venv clean

check: venv
	$(VENV)/bin/python -m pytest -p no:cacheprovider -n auto \
	    --junitxml=test-results/junit.xml tests/unit tests/dbus
	VENV=$(VENV) lab/run

lab: venv
	VENV=$(VENV) lab/run

unit: venv
	$(VENV)/bin/python -m pytest -p no:cacheprovider tests/unit

# The import contracts alone, with import-linter's report (the unit tier runs them
# through tests/unit/test_import_contracts.py).
imports: venv
	$(VENV)/bin/lint-imports --no-cache

dbus: venv
	$(VENV)/bin/python -m pytest -p no:cacheprovider tests/dbus

run: venv
	VENV=$(VENV) LAB_MODE=run lab/run

# The results go to bench/results/<date>-<env>/ (bench.json, bench.md, bench.png),
# also when the run stopped early: the JSON holds what finished.
bench: bench-deps
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
	@missing=$$(for p in $(BENCH_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	@$(VENV)/bin/python -c 'import matplotlib' 2>/dev/null || \
	  $(VENV)/bin/python -m pip install -q -e '.[test,lab,bench]'

run-sim: venv
	tools/run-sim $(VENV)

deps:
	@missing=$$(for p in $(APT_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

venv: deps $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv --system-site-packages $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e '.[test,lab]'
	touch $@

# The service's own virtualenv under $(LIBDIR) (dbus-fast >= 5.2 and pydantic 2 are
# newer than Debian 12 ships), the commands where Debian puts them, and the bus,
# polkit and systemd files. Run as root.
install: deps
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
	install -D -m 644 etc/storage.conf /etc/solidice-storage/storage.conf.example
	[ -e /etc/solidice-storage/storage.conf ] || \
	    install -m 644 etc/storage.conf /etc/solidice-storage/storage.conf
	if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

uninstall:
	rm -rf $(LIBDIR)
	rm -f $(PREFIX)/sbin/solidice-storaged $(PREFIX)/bin/solidice-storagectl \
	    $(PREFIX)/share/dbus-1/system.d/org.solidice.Storage.conf \
	    $(PREFIX)/share/dbus-1/system-services/org.solidice.Storage.service \
	    $(PREFIX)/share/polkit-1/actions/org.solidice.storage.policy \
	    $(PREFIX)/lib/systemd/system/solidice-storaged.service \
	    $(PREFIX)/share/dbus-1/interfaces/org.solidice.Storage.*.xml \
	    /etc/solidice-storage/storage.conf.example
	if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

clean:
	rm -rf $(VENV) test-results build *.egg-info service/*.egg-info
