#!/usr/bin/env bats
# au new run again, as a script or a configuration manager does: an agent that is whole
# is a success with nothing to do; anything less is still refused. And the entrypoint's
# source: au info says when the entrypoint was compiled from another source than this
# au's (an upgrade of au brought a new one), and names the command that rebuilds it
# (au repair). The health item is read from --json, by its id: the stable contract.

load helpers

ENTRYPOINT=$AU_PREFIX/libexec/agent-as-unix-user/agent/su_as_agent

setup() {
	require_world
	fresh_config
	local out
	out=$(as_human au new --yes 2>&1) || fail "au new failed: $out"
}

@test "au new on an agent that exists and is whole: exit 0, 'already exists', nothing changed" {
	local config_before entrypoint_before
	config_before=$(sha256sum <"$(human_config)")
	entrypoint_before=$(stat -c '%i %Y' "$ENTRYPOINT")

	run --separate-stderr as_human au new --yes
	assert_success
	assert_output "Agent agent already exists: nothing to do"
	# Nothing was run: au prints every system command before it runs it.
	refute_output --partial '$ '
	assert_equal "$(sha256sum <"$(human_config)")" "$config_before"
	assert_equal "$(stat -c '%i %Y' "$ENTRYPOINT")" "$entrypoint_before"

	# Without --yes and without a terminal too: there is nothing to confirm.
	run --separate-stderr as_human au new
	assert_success
	assert_output "Agent agent already exists: nothing to do"
}

@test "au new on an agent that exists but is not whole still fails, and changes nothing" {
	local config_before
	config_before=$(sha256sum <"$(human_config)")
	rm "$ENTRYPOINT"

	run --separate-stderr as_human au new --yes
	assert_failure 1
	refute_output --partial "already exists: nothing to do"
	assert_regex "$stderr" "agent 'agent' is already in"
	assert_equal "$(sha256sum <"$(human_config)")" "$config_before"
}

@test "au new of a name whose user exists without a config entry is refused as before" {
	useradd --no-create-home bob

	run --separate-stderr as_human au new --yes -a bob
	assert_failure 1
	assert_regex "$stderr" "a user named 'bob' already exists"
}

# source_verdict: the verdict and message of the health item "entrypoint_source" of the
# last output (au info --json), as "VERDICT MESSAGE".
source_verdict() {
	python3 -c '
import json, sys
for h in json.loads(sys.stdin.read())["health"]:
    if h["check"] == "entrypoint_source":
        print(h["verdict"], h["message"])' <<<"$output"
}

@test "au new records the SHA-256 of the source the entrypoint was compiled from" {
	local installed_source
	installed_source=$(sha256sum <"$AU_PREFIX/share/agent-as-unix-user/su_as_agent.c" | cut -d' ' -f1)

	run grep -x "entrypoint_source_sha256 = \"$installed_source\"" "$(human_config)"
	assert_success
	run --separate-stderr as_human au info --json
	assert_success
	assert_regex "$(source_verdict)" '^ok '
}

@test "au info says when the entrypoint was compiled from another source, and how to rebuild it" {
	local other=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
	sed -i "s/^entrypoint_source_sha256 = .*/entrypoint_source_sha256 = \"$other\"/" "$(human_config)"

	run --separate-stderr as_human au info --json
	assert_failure 1
	assert_regex "$(source_verdict)" "^broken .*'au repair -a agent'"
	run --separate-stderr as_human au info
	assert_failure 1
	assert_line --regexp "^  broken  .*'au repair -a agent'"
	assert_line "1 broken: see above"
}

@test "au info says when the entrypoint's source was never recorded (an older au made it)" {
	sed -i '/^entrypoint_source_sha256 = /d' "$(human_config)"

	run --separate-stderr as_human au info --json
	assert_failure 1
	assert_regex "$(source_verdict)" "^broken .*'au repair -a agent'"
}
