# The front door. Meson and ninja do the work; this file only names it.
PREFIX ?= /usr/local
DESTDIR ?=
BUILDDIR ?= build
ASAN_BUILDDIR ?= build-asan
# check, demo and bench run as root: they build apart, so that a later plain
# "make" as yourself does not meet a root-owned build/.
CHECK_BUILDDIR ?= build-check
MESON ?= meson

DEB_DIR ?= build-deb

.PHONY: all install check check-unit check-integration check-asan check-old-kernel demo bench fuzz clean deps deb analyze

all: $(BUILDDIR)/build.ninja
	ninja -C $(BUILDDIR)

# The prefix is compiled into au (it finds the entrypoint source and installs
# the entrypoint below it), so a different PREFIX reconfigures.
$(BUILDDIR)/build.ninja:
	$(MESON) setup $(BUILDDIR) --prefix=$(PREFIX)

install: $(BUILDDIR)/build.ninja
	@if [ "$$($(MESON) introspect $(BUILDDIR) --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')" != "$(PREFIX)" ]; then \
		$(MESON) configure $(BUILDDIR) -Dprefix=$(PREFIX); fi
	ninja -C $(BUILDDIR)
	DESTDIR=$(DESTDIR) $(MESON) install -C $(BUILDDIR) --no-rebuild --quiet

deps:
	tools/install-deps

check:
	tools/install-deps
	tools/run-checks $(CHECK_BUILDDIR)

# The second and third passes run a part of the tests, the part that goes through the
# code they watch: CI runs all three passes, and has 90 minutes (make check alone takes
# half an hour on its 2 cores). Under the sanitizers, the runs, the entrypoint's attacks,
# shares and the ACL walk, the read-write watch, and the network end to end.
ASAN_TESTS ?= tests/net tests/integration/11-run.bats tests/integration/20-mount.bats \
	tests/integration/50-net.bats tests/security/10-entrypoint.bats \
	tests/security/22-shares-boundary.bats tests/security/40-net.bats
# On the old kernel, the files whose steps take a fallback of tests/old-kernel/calls.h:
# binds (open_tree, mount_setattr), the ACL walk (setxattrat, and clone3 for its
# thread), fd closing (close_range, in every run), the pty (TIOCGPTPEER), the watch's
# link check (statx), the proxy's end (pidfd_open), the limits' cgroups.
OLD_KERNEL_TESTS ?= tests/integration/11-run.bats tests/integration/20-mount.bats \
	tests/integration/31-job-control.bats tests/integration/50-net.bats \
	tests/security/10-entrypoint.bats tests/security/20-mounts.bats \
	tests/security/22-shares-boundary.bats tests/security/30-terminal.bats \
	tests/security/40-net.bats tests/security/41-limits.bats

check-asan:
	tools/install-deps
	@[ -f $(ASAN_BUILDDIR)/build.ninja ] || $(MESON) setup $(ASAN_BUILDDIR) \
		--prefix=$(PREFIX) -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false
	@# gcc 12's ASan cannot place its shadow memory with 32 bits of mmap randomness
	@# (the default since Linux 6.5 on some distributions): programs hang or die at start.
	@bits=$$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0); \
	if [ "$$bits" -gt 28 ]; then \
		echo "check-asan: vm.mmap_rnd_bits is $$bits; ASan needs 28 or less"; \
		if [ "$$(id -u)" = 0 ]; then echo "\$$ sysctl -w vm.mmap_rnd_bits=28"; sysctl -w vm.mmap_rnd_bits=28; \
		else echo "run: sudo sysctl -w vm.mmap_rnd_bits=28" >&2; exit 1; fi; \
	fi
	# The package tests build the .deb from source, whatever the build: make check runs them.
	AU_CHECK_PACKAGE=0 AU_CHECK_ONLY="$(ASAN_TESTS)" tools/run-checks $(ASAN_BUILDDIR)

# OLD_KERNEL_TESTS again, with every call an old kernel lacks refused
# (tests/old-kernel/calls.h): as on Linux 4.4.
check-old-kernel:
	tools/install-deps
	AU_OLD_KERNEL=1 AU_CHECK_PACKAGE=0 AU_CHECK_ONLY="$(OLD_KERNEL_TESTS)" tools/run-checks $(CHECK_BUILDDIR)

demo:
	tools/install-deps
	tools/demo $(CHECK_BUILDDIR)

bench:
	tools/install-deps
	tools/bench $(CHECK_BUILDDIR)

fuzz:
	tools/install-deps
	tools/fuzz

# Static analysis: gcc -fanalyzer, cppcheck and scan-build; zero findings (tools/analyze).
analyze:
	tools/install-deps
	tools/analyze

# The Debian package (dpkg-buildpackage -us -uc -b, in a copy of the tree), into DEB_DIR.
deb:
	tools/install-deps
	tools/build-deb $(DEB_DIR)

clean:
	rm -rf $(BUILDDIR) $(ASAN_BUILDDIR) $(CHECK_BUILDDIR) build-fuzz $(DEB_DIR) build-analyze build-scan
