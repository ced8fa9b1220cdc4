#!/usr/bin/env bats
# The Debian package, as a packager checks it: dpkg-buildpackage builds au_*.deb from
# the debian/ folder, with everything meson installs, the docs and the copyright, the
# run-time dependencies au really has, and lintian finds no error in it.

load package

setup_file() {
	[[ -n ${AU_WORLD:-} ]] || return 0
	# Built once here, for every test of tests/package.
	rm -rf "$AU_DEB_DIR"
	"$AU_REPO/tools/build-deb" "$AU_DEB_DIR" >"$BATS_FILE_TMPDIR/build.log" 2>&1 ||
		echo "build failed" >"$BATS_FILE_TMPDIR/failed"
}

setup() {
	require_package_world
	if [[ -f $BATS_FILE_TMPDIR/failed ]]; then
		tail -n 40 "$BATS_FILE_TMPDIR/build.log"
		fail "tools/build-deb (dpkg-buildpackage -us -uc -b) failed"
	fi
	deb=$(the_deb)
}

teardown() {
	:
}

@test "dpkg-buildpackage -us -uc -b builds au_VERSION_ARCH.deb, its unit tests run" {
	assert_regex "${deb##*/}" "^au_[0-9][^_]*_$(dpkg --print-architecture)\\.deb\$"
	run grep -E '^(Ok|Fail): ' "$BATS_FILE_TMPDIR/build.log"
	assert_line --regexp '^Ok: +[1-9][0-9]* *$'
	assert_line --regexp '^Fail: +0 *$'
}

@test "the package holds au, the entrypoint source, the man page, the completions, the docs and the copyright" {
	run dpkg-deb -c "$deb"
	assert_success
	local path
	for path in ./usr/bin/au ./usr/share/agent-as-unix-user/su_as_agent.c ./usr/share/man/man1/au.1.gz \
		./usr/share/bash-completion/completions/au ./usr/share/zsh/vendor-completions/_au \
		./usr/share/fish/vendor_completions.d/au.fish ./usr/share/doc/au/copyright \
		./usr/share/doc/au/README.md.gz; do
		assert_line --regexp " ${path//./\\.}\$"
	done
	# Compressed when it is over 4 KiB.
	assert_line --regexp ' \./usr/share/doc/au/SECURITY\.md(\.gz)?$'
	# No setuid file: au compiles one per agent at 'au new'.
	refute_line --regexp '^-..s'
	# The entrypoint source is the one this au was built with.
	run bash -c "dpkg-deb --fsys-tarfile '$deb' | tar -xO ./usr/share/agent-as-unix-user/su_as_agent.c | sha256sum"
	assert_output "$(sha256sum <"$AU_REPO/entrypoint/su_as_agent.c")"
}

@test "the package takes whatever meson install installs" {
	local build=$BATS_TEST_TMPDIR/build
	meson setup "$build" --prefix=/usr -Dzshcompletiondir=/usr/share/zsh/vendor-completions >/dev/null
	# Every file meson would install, by its place; the package's files but the docs.
	run python3 -c '
import json, sys
for dest in json.load(sys.stdin).values():
    print("." + dest)' < <(meson introspect --installed "$build")
	assert_success
	local installed=$output
	run bash -c "dpkg-deb -c '$deb' | awk '\$1 !~ /^d/ { print \$6 }' | grep -v '^\./usr/share/doc/'"
	assert_success
	assert_equal "$(sort <<<"$output")" "$(sort -u <<<"$installed" | sed 's|/man1/au\.1$|/man1/au.1.gz|')"
}

@test "the package depends on what au runs: acl, sudo, a C compiler (musl-tools or libc6-dev), git, passwd" {
	run dpkg-deb -f "$deb" Depends
	assert_success
	local dep
	for dep in acl sudo gcc 'musl-tools | libc6-dev' git passwd; do
		[[ ", $output," == *", $dep,"* ]] || fail "'$dep' is not in Depends: $output"
	done
}

@test "lintian finds no error in the package" {
	run lintian --fail-on error --no-tag-display-limit "$deb"
	echo "$output"
	assert_success
	refute_line --regexp '^E: '
}
