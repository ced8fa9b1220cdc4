#!/usr/bin/env bats
# au repair, as the human meets it: the way back from a lost config entry, from an agent
# made by the reference tool, from an upgrade of au, from a half-made agent; and what it
# refuses to adopt.

load helpers

setup() {
	require_world
	fresh_config
	home=$(human_home)
}

teardown() {
	world_teardown
	rm -rf --one-file-system /home/agent
}

ENTRYPOINT=$AU_PREFIX/libexec/agent-as-unix-user/agent/su_as_agent

new_agent() {
	local out
	out=$(as_human au new --yes "$@" 2>&1) || fail "au new failed: $out"
}

# The value of KEY in the config's first agent.
config_value() {
	sed -n "s/^$1 = //p" "$(human_config)" | head -n 1
}

@test "after the config is lost, au new and au delete name au repair, which adopts the agent" {
	new_agent
	local uid gid
	uid=$(id -u agent)
	gid=$(getent group su-as-agent | cut -d: -f3)
	fresh_config

	run --separate-stderr as_human au new --yes
	assert_failure 1
	assert_regex "$stderr" "a user named 'agent' already exists"
	assert_regex "$stderr" "hint: .*'au repair -a agent' adopts it"
	run --separate-stderr as_human au delete --yes
	assert_failure 1
	assert_regex "$stderr" "hint: .*'au repair -a agent' adopts it"

	# Adopting asks first.
	run --separate-stderr as_human au repair
	assert_failure 1
	assert_regex "$stderr" "no terminal to confirm on"
	assert_regex "$stderr" "pass --yes to adopt agent 'agent'"
	run --separate-stderr as_human au list
	assert_output "No agents configured."

	run --separate-stderr as_human au repair --yes
	assert_success
	assert_line --regexp "^\\\$ sudo install -o root -g su-as-agent -m 4750 [^ ]+ $ENTRYPOINT\$"
	assert_line --regexp "^Repaired agent agent: "
	assert_equal "$(config_value uid)" "$uid"
	assert_equal "$(config_value gid)" "$gid"
	assert_equal "$(config_value bootstrapped)" true
	run --separate-stderr as_human au run --no-login id -un
	assert_success
	assert_output agent
	run --separate-stderr as_human au info
	assert_success
	run --separate-stderr as_human au delete --yes
	assert_success
}

@test "after an upgrade of au, au info says the entrypoint is out of date and names au repair, which rebuilds it" {
	new_agent
	local old_sha
	old_sha=$(config_value entrypoint_sha256)
	# What an upgrade looks like from the config: the entrypoint was built from a source
	# that is not this au's.
	sed -i 's/^entrypoint_source_sha256 = .*/entrypoint_source_sha256 = "'"$(printf '0%.0s' {1..64})"'"/' "$(human_config)"

	run --separate-stderr as_human au info
	assert_failure 1
	assert_line --regexp "broken +the entrypoint was built from another version of au's entrypoint source \(au was upgraded\): it is out of date: run 'au repair -a agent'"
	run --separate-stderr as_human au run --no-login true
	assert_failure 1
	assert_regex "$stderr" "refusing to run agent 'agent': .*out of date"
	assert_regex "$stderr" "hint: run 'au repair -a agent'"

	# A rebuild asks nothing: it only replaces au's own entrypoint with a current one.
	run --separate-stderr as_human au repair
	assert_success
	assert_line --regexp "^\\\$ sudo install -o root -g su-as-agent -m 4750 [^ ]+ $ENTRYPOINT\$"
	run --separate-stderr as_human au info
	assert_success
	run --separate-stderr as_human au run --no-login true
	assert_success
	run --separate-stderr as_human au repair
	assert_success
	assert_output "Agent agent needs no repair"
	[[ -n $old_sha ]]
}

@test "au repair --all rebuilds every agent built by an older au, and mentions agents the config lost" {
	new_agent
	new_agent -a bob
	sed -i '/^entrypoint_source_sha256 = /d' "$(human_config)"
	groupadd su-as-carol
	useradd --create-home --gid su-as-carol carol

	run --separate-stderr as_human au info -a bob
	assert_line --regexp "broken +the entrypoint was built by an older au, or by agent-as-unix-user: it is out of date: run 'au repair -a bob'"
	run --separate-stderr as_human au repair --all
	assert_success
	assert_line --regexp "^Repaired agent agent: "
	assert_line --regexp "^Repaired agent bob: "
	assert_line "User carol looks like an agent that the config does not know: 'au repair -a carol' adopts it"
	run --separate-stderr as_human au run -a bob --no-login id -un
	assert_output bob
}

@test "au repair finishes an agent whose au new was killed before its entrypoint was installed" {
	local fake=$BATS_TEST_TMPDIR/cc compiler compilers=()
	# shellcheck disable=SC2016 # $PPID is the fake compiler's, not ours
	printf '#!/bin/sh\nkill -KILL $PPID\nexit 1\n' >"$fake"
	chmod 0755 "$fake"
	# au runs its helpers by absolute path, never from PATH: the fake goes over the real
	# compilers, in the throwaway world's mount namespace only.
	for compiler in /usr/bin/musl-gcc "$(readlink -f /usr/bin/cc)"; do
		[[ -e $compiler ]] || continue
		mount --bind "$fake" "$compiler"
		compilers+=("$compiler")
	done
	run --separate-stderr as_human au new --yes
	for compiler in "${compilers[@]}"; do
		umount "$compiler"
	done
	assert_equal "$status" 137
	run --separate-stderr as_human au run true
	assert_failure 1
	assert_regex "$stderr" "'au repair -a agent' finishes it"

	run --separate-stderr as_human au repair
	assert_success
	assert_equal "$(config_value bootstrapped)" true
	run --separate-stderr as_human au run --no-login id -un
	assert_output agent
}

@test "au repair builds again an entrypoint that was removed, as au info says" {
	new_agent
	rm "$ENTRYPOINT"
	run --separate-stderr as_human au info
	assert_failure 1
	assert_line --regexp "broken +entrypoint: .*'au repair -a agent' builds it again"

	run --separate-stderr as_human au repair
	assert_success
	run --separate-stderr as_human au info
	assert_success
}

@test "au repair adopts nothing that is not an agent: a system account, the human, a user without its group" {
	run --separate-stderr as_human au repair --yes -a root
	assert_failure 1
	assert_regex "$stderr" "cannot adopt 'root': there is no group 'su-as-root'"
	groupadd su-as-daemon
	run --separate-stderr as_human au repair --yes -a daemon
	assert_failure 1
	assert_regex "$stderr" "cannot adopt 'daemon': user 'daemon' \(uid 1\) is a system account or yourself"
	groupadd "su-as-$AU_HUMAN"
	run --separate-stderr as_human au repair --yes -a "$AU_HUMAN"
	assert_failure 1
	assert_regex "$stderr" "is a system account or yourself, not an agent"
	useradd --create-home dave
	groupadd su-as-dave
	run --separate-stderr as_human au repair --yes -a dave
	assert_failure 1
	assert_regex "$stderr" "the primary group of user 'dave' is not 'su-as-dave'"
	assert [ ! -e "$AU_PREFIX/libexec/agent-as-unix-user/dave" ]
	run --separate-stderr as_human au list
	assert_output "No agents configured."
}
