#!/usr/bin/env bats
# au delete, as the human meets it: it asks first, it finishes whatever state the agent
# is in (whole, half-made, half-deleted), and when it says "Deleted" nothing is left.

load helpers

ENTRYPOINT_DIR=$AU_PREFIX/libexec/agent-as-unix-user/agent

setup() {
	require_world
	fresh_config
}

teardown() {
	# A test's compiler, over /usr/local/bin of the world only.
	if [[ -n ${fake_cc_mounted:-} ]]; then
		umount /usr/local/bin
	fi
	world_teardown
	# A home whose user is gone, which world_teardown does not know of.
	rm -rf --one-file-system /home/agent
}

new_agent() {
	local out
	out=$(as_human au new --yes 2>&1) || fail "au new failed: $out"
}

# au delete succeeded and nothing of the agent is left: no user, no group, no process,
# no entrypoint folder, no config entry.
assert_deleted() {
	local uid=${1:-}

	assert_success
	assert_equal "${lines[-1]}" "Deleted agent agent"
	run getent passwd agent
	assert_failure
	run getent group su-as-agent
	assert_failure
	assert [ ! -e "$ENTRYPOINT_DIR" ]
	if [[ -n $uid ]]; then
		run pgrep --uid "$uid"
		assert_failure
	fi
	run --separate-stderr as_human au list
	assert_output "No agents configured."
}

# au delete refused, and the agent is all there still.
assert_not_deleted() {
	run getent passwd agent
	assert_success
	run getent group su-as-agent
	assert_success
	assert [ -u "$ENTRYPOINT_DIR/su_as_agent" ]
	run --separate-stderr as_human au list
	assert_output "agent (default)"
}

@test "au delete --yes removes the user, the group and the entrypoint, and keeps the home" {
	new_agent
	echo "the agent's work" >/home/agent/work.txt

	run --separate-stderr as_human au delete --yes
	assert_line '$ sudo userdel agent'
	assert_line '$ sudo groupdel su-as-agent'
	assert_deleted
	assert_equal "$(cat /home/agent/work.txt)" "the agent's work"
	run id -nG "$AU_HUMAN"
	refute_output --partial su-as-agent
}

@test "au delete --delete-home removes the home too" {
	new_agent

	run --separate-stderr as_human au delete --yes --delete-home
	assert_line '$ sudo rm -rf -- /home/agent'
	assert_deleted
	assert [ ! -e /home/agent ]
}

@test "au delete finishes the job when the user is already gone" {
	new_agent
	userdel agent

	run --separate-stderr as_human au delete --yes
	assert_line "user 'agent' does not exist, skipping"
	assert_deleted
}

@test "au delete finishes the job when the group is already gone" {
	new_agent
	groupdel --force su-as-agent

	run --separate-stderr as_human au delete --yes
	assert_line "group 'su-as-agent' does not exist, skipping"
	assert_deleted
}

@test "au delete --delete-home finishes the job when the home is already gone" {
	new_agent
	rm -rf /home/agent

	run --separate-stderr as_human au delete --yes --delete-home
	assert_line "home '/home/agent' does not exist, skipping"
	assert_deleted
}

@test "au delete finishes the job when the entrypoint is already gone" {
	new_agent
	rm "$ENTRYPOINT_DIR/su_as_agent"

	run --separate-stderr as_human au delete --yes
	assert_deleted
}

@test "au delete finishes the job when the entrypoint folder is already gone" {
	new_agent
	rm -r "$ENTRYPOINT_DIR"

	run --separate-stderr as_human au delete --yes
	assert_line "entrypoint folder '$ENTRYPOINT_DIR' does not exist, skipping"
	assert_deleted
}

@test "au delete cleans up after an au new that was killed midway" {
	# A C compiler that kills au new: the user, group and home exist, the entrypoint not.
	# au takes its compiler from root's folders only (never from PATH): the world's own
	# /usr/local/bin, first of them, gets it, on a tmpfs that the teardown takes away.
	local bin=/usr/local/bin
	mount -t tmpfs -o mode=0755 au-test-cc "$bin"
	fake_cc_mounted=1
	# shellcheck disable=SC2016 # $PPID is the fake cc's, not ours
	printf '#!/bin/sh\nkill -KILL $PPID\nexit 1\n' >"$bin/cc"
	chmod 0755 "$bin/cc"
	# au new compiles with musl-gcc when musl-tools is there.
	cp "$bin/cc" "$bin/musl-gcc"
	run --separate-stderr as_human au new --yes
	assert_equal "$status" 137
	umount "$bin"
	fake_cc_mounted=
	run grep -Fx 'bootstrapped = false' "$(human_config)"
	assert_success
	run getent passwd agent
	assert_success

	run --separate-stderr as_human au delete --yes --delete-home
	assert_deleted
	assert [ ! -e /home/agent ]
}

@test "au delete cleans up a half-made agent: a config with bootstrapped = false and a group" {
	write_config <<-EOF
		[[agents]]
		user_name = "agent"
		su_as_agent_group = "su-as-agent"
		entrypoint = "$ENTRYPOINT_DIR/su_as_agent"
		entrypoint_sha256 = "<unknown>"
		bootstrapped = false
	EOF
	groupadd su-as-agent

	run --separate-stderr as_human au delete --yes
	assert_line "user 'agent' does not exist, skipping"
	assert_line '$ sudo groupdel su-as-agent'
	assert_deleted
}

@test "au delete --delete-home refuses a home that is not the agent's" {
	new_agent
	echo "root's things" >/home/agent/keep.txt
	chown root /home/agent

	run --separate-stderr as_human au delete --yes --delete-home
	assert_failure 1
	assert_regex "$stderr" "not removing '/home/agent': it is not a directory owned by the agent \(uid [0-9]+\)"
	# Refused before anything changed: the agent is still whole.
	refute_output --partial '$ sudo'
	refute_output --partial "Deleted agent"
	getent passwd agent >/dev/null
	assert_equal "$(cat /home/agent/keep.txt)" "root's things"

	# Without --delete-home, the human can still finish the job.
	run --separate-stderr as_human au delete --yes
	assert_deleted
	assert_equal "$(cat /home/agent/keep.txt)" "root's things"
}

@test "au delete asks on a terminal: no keeps the agent, yes deletes it" {
	new_agent

	run as_human --stdin script -qec 'au delete' /dev/null <<<"n"
	assert_output --partial "Delete agent agent (user, group 'su-as-agent', entrypoint)? [y/N]"
	assert_output --partial "Nothing done."
	assert_not_deleted

	run as_human --stdin script -qec 'au delete' /dev/null <<<"y"
	assert_output --partial "Deleted agent agent"
	run getent passwd agent
	assert_failure
	run --separate-stderr as_human au list
	assert_output "No agents configured."
}

@test "au delete without a terminal and without --yes refuses and deletes nothing" {
	new_agent

	run --separate-stderr as_human au delete
	assert_failure 1
	assert_regex "$stderr" "no terminal to confirm on"
	assert_regex "$stderr" "--yes"
	refute_output --partial '$ sudo'
	assert_not_deleted
}

@test "au delete with an agent process still running kills it, and the user is really gone" {
	new_agent
	local uid
	uid=$(id -u agent)
	# Not captured: a kept agent holds au run's output open (see 11-run.bats).
	as_human au run --keep-running sh -c 'sleep 100 </dev/null >/dev/null 2>&1 &' >/dev/null 2>&1
	run pgrep --uid "$uid" --exact sleep
	assert_success

	run --separate-stderr as_human au delete --yes
	assert_deleted "$uid"
}

@test "au delete --delete-home finishes when the user was removed by hand: the owner is checked against the recorded uid" {
	new_agent
	local uid
	uid=$(id -u agent)
	# A process of the agent's outlives its user: a removal by hand leaves it running.
	as_human au run --keep-running sh -c 'sleep 100 </dev/null >/dev/null 2>&1 &' >/dev/null 2>&1
	userdel --force agent
	run pgrep --uid "$uid" --exact sleep
	assert_success

	run --separate-stderr as_human au delete --yes --delete-home
	assert_line "user 'agent' does not exist, skipping"
	assert_line '$ sudo rm -rf -- /home/agent'
	assert_deleted "$uid"
	assert [ ! -e /home/agent ]
}

@test "au delete does not take an entrypoint folder it cannot see for one that does not exist" {
	new_agent
	chmod 0700 "$AU_PREFIX/libexec/agent-as-unix-user"

	run --separate-stderr as_human au delete --yes
	assert_failure 1
	assert_regex "$stderr" "not removing '$ENTRYPOINT_DIR' as root: .*Permission denied"
	assert_regex "$stderr" "agent 'agent' was not completely deleted"
	refute_output --partial "does not exist, skipping"
	assert [ -u "$ENTRYPOINT_DIR/su_as_agent" ]
	run --separate-stderr as_human au list
	assert_output "agent (default)"

	chmod 0755 "$AU_PREFIX/libexec/agent-as-unix-user"
	run --separate-stderr as_human au delete --yes
	assert_deleted
}
