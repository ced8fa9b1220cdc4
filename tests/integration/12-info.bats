#!/usr/bin/env bats
# au info as a health check: all ok right after au new; and each broken piece named,
# with exit status 1, when something was changed behind au's back.

load helpers

ENTRYPOINT=$AU_PREFIX/libexec/agent-as-unix-user/agent/su_as_agent

setup() {
	require_world
	fresh_config
	local out
	out=$(as_human au new --yes 2>&1) || fail "au new failed: $out"
}

# The lines of $output below "Health:", without the closing summary.
health_lines() {
	printf '%s\n' "${lines[@]}" | sed -n '/^Health:$/,$p' | sed '1d' | grep -Ev '^(Healthy\.|[0-9]+ broken: see above)$'
}

# au info fails, and exactly one health line is broken: the one matching REGEX.
assert_only_broken() {
	local regex=$1 broken

	assert_failure 1
	broken=$(health_lines | grep -E '^  broken  ' || true)
	assert_equal "$(wc -l <<<"$broken")" 1
	assert_regex "$broken" "$regex"
	assert_line "1 broken: see above"
}

@test "au info right after au new: every health line ok, and exit 0" {
	run --separate-stderr as_human au info
	assert_success
	assert_line --index 0 "Agent:       agent (default)"
	assert_line "User:        agent (uid $(id -u agent))"
	assert_line "Entrypoint:  $ENTRYPOINT"
	assert_line Healthy.
	run health_lines
	assert [ "${#lines[@]}" -ge 8 ]
	refute_line --regexp '^  broken'
	local line
	for line in "${lines[@]}"; do
		assert_regex "$line" '^  ok      '
	done
}

@test "au info says the entrypoint is broken after a chmod, with the mode found" {
	chmod 4755 "$ENTRYPOINT"

	run --separate-stderr as_human au info
	assert_failure 1
	assert_line --regexp "^  broken  entrypoint: '${ENTRYPOINT//./\\.}' has mode 4755, expected 4750: 'au repair -a agent' builds it again\$"
	refute_line Healthy.
}

@test "au info says the group is broken when it is gone" {
	groupdel --force su-as-agent

	run --separate-stderr as_human au info
	assert_failure 1
	assert_line --regexp "^Group:       su-as-agent \(missing; it had gid [0-9]+\)$"
	assert_line "  broken  group 'su-as-agent' exists"
	refute_line Healthy.
}

@test "au info says the home is broken when it lost its setgid bit" {
	chmod g-s /home/agent

	run --separate-stderr as_human au info
	assert_only_broken "^  broken  home '/home/agent' .*\(no setgid bit\)"
}

@test "au info says the home is broken when its default ACL is gone" {
	setfacl --remove-default /home/agent

	run --separate-stderr as_human au info
	assert_only_broken "^  broken  home '/home/agent' .*\(no default:group ACL entry\)"
}

@test "au info says the entrypoint's SHA-256 is broken when the file was replaced" {
	cp /bin/true "$ENTRYPOINT"
	chown root:su-as-agent "$ENTRYPOINT"
	chmod 4750 "$ENTRYPOINT"

	run --separate-stderr as_human au info
	assert_only_broken "^  broken  entrypoint: .* has SHA-256 $(sha256sum /bin/true | cut -d' ' -f1), expected [0-9a-f]{64}: 'au repair -a agent' builds it again\$"
}

@test "au info says the user is broken when it is gone" {
	userdel agent

	run --separate-stderr as_human au info
	assert_failure 1
	assert_line --regexp "^User:        agent \(missing; it had uid [0-9]+\)$"
	assert_line "  broken  user 'agent' exists"
}
