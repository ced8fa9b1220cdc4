#!/usr/bin/env bats
# Where systemd is init, the cgroup tree is systemd's: au, as the human, asks her user
# manager for a transient scope (systemd-run --user --scope) with the limits, and the
# entrypoint only checks where it was started, refusing a login session's scope or a
# scope without the limits asked for.
#
# This machine has no systemd, so the world plays its part: /run/systemd/system says
# "systemd is init", a stand-in bound over /usr/bin/systemd-run makes the scope below a
# user@UID.service tree on the cgroup v2 hierarchy (owned by the human, as systemd
# delegates it) and moves itself there, as the user manager would, then runs the
# entrypoint. The v2 hierarchy here has no controllers, so no limit can be had.

load helpers
load terminal

setup() {
	require_world
	fresh_config
	local out
	out=$(as_human au new --yes 2>&1) || fail "au new failed: $out"
	uid=$(id -u "$AU_HUMAN")
	v2=/sys/fs/cgroup/unified
	[[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]] && v2=/sys/fs/cgroup
	slice=$v2/user.slice/user-$uid.slice
	manager=$slice/user@$uid.service
	session=$slice/session-au$$-$RANDOM.scope
	mkdir -p "$manager/app.slice" "$session"
	# What logind and the user manager leave to the human: her manager's tree, and (as
	# systemd does for her through AttachProcessesToUnit) the move out of her session.
	chown -R "$AU_HUMAN" "$manager"
	chown "$AU_HUMAN" "$slice/cgroup.procs"
	mkdir -p /run/systemd/system
	log=/tmp/au-test-systemd-run.log
	rm -f "$log"
}

teardown() {
	umount /usr/bin/systemd-run 2>/dev/null || true
	rm -rf /run/systemd "$log"
	local dir
	for dir in "$manager"/app.slice/au-agent-*.scope; do
		rmdir "$dir" 2>/dev/null || true
	done
	chown root "$slice/cgroup.procs" 2>/dev/null || true
	rmdir "$session" "$manager/app.slice" "$manager" "$slice" "$v2/user.slice" 2>/dev/null || true
	world_teardown
}

# The stand-in for systemd-run: logs its arguments, and with MODE "scope" makes the
# scope named by --unit in the user manager's app.slice and moves itself into it;
# with "none" it leaves its process where it is. Then it runs the command.
fake_systemd_run() {
	local mode=$1 fake=$BATS_TEST_TMPDIR/systemd-run
	cat >"$fake" <<-EOF
		#!/bin/bash
		echo "\$*" >>$log
		unit=
		while ((\$#)) && [[ \$1 != -- ]]; do
			case \$1 in --unit=*) unit=\${1#--unit=} ;; esac
			shift
		done
		shift
		if [[ $mode == scope ]]; then
			mkdir "$manager/app.slice/\$unit.scope" && echo \$\$ >"$manager/app.slice/\$unit.scope/cgroup.procs" || exit 1
		fi
		exec "\$@"
	EOF
	chmod 0755 "$fake"
	mount --bind "$fake" /usr/bin/systemd-run
}

# CMD... run as the human from her login session's scope, with the runtime
# directory a login gives (where the user manager's bus would be).
in_session() {
	local cmd
	cmd="echo \$\$ >$session/cgroup.procs && exec su - $AU_HUMAN -c $(printf '%q' "env XDG_RUNTIME_DIR=/run/user/$uid $(printf '%q ' "$@")")"
	bash -c "$cmd" </dev/null
}

@test "with systemd, the agent runs in a scope of the human's user manager, not in her session" {
	fake_systemd_run scope
	# A bare setuid from the session stays in it.
	run in_session sudo -n setpriv --reuid=agent --regid=su-as-agent --clear-groups cat /proc/self/cgroup
	assert_output --partial "/session-au"

	in_session au run --no-login sleep 3 >/dev/null 2>&1 3>&- &
	local pid
	wait_for pgrep -u agent -x sleep
	pid=$(pgrep -u agent -x sleep)
	run cat "/proc/$pid/cgroup"
	echo "# $output"
	assert_output --regexp "0::/user.slice/user-$uid.slice/user@$uid.service/app.slice/au-agent-[0-9a-f]{16}\.scope"
	refute_output --partial session-
	# The entrypoint made no cgroup of its own in systemd's tree.
	refute_output --partial /au/agent/run-
	wait

	# au asked by absolute path, for a user scope, and passed the entrypoint by fd.
	run cat "$log"
	assert_line --regexp "^--user --scope --quiet --collect --unit=au-agent-[0-9a-f]{16} -- /proc/self/fd/[0-9]+ $SU_PROTOCOL "
}

@test "with systemd, the limits go to the scope, and a scope without them is refused" {
	fake_systemd_run scope
	run --separate-stderr in_session au run --limit memory=1G --limit tasks=64 --limit cpu=50% \
		--no-login touch /tmp/au-test-ran
	assert_failure 125
	assert_regex "$stderr" "au: entrypoint: the systemd scope does not limit memory as asked"
	assert [ ! -e /tmp/au-test-ran ]
	run cat "$log"
	assert_output --regexp ' --property=MemoryMax=1073741824 --property=MemorySwapMax=0 --property=CPUQuota=50% --property=TasksMax=64 -- '
}

@test "with systemd, the entrypoint refuses to run in the human's login session" {
	# A systemd-run that does not move the process: the scope was not had.
	fake_systemd_run none
	run --separate-stderr in_session au run --no-login touch /tmp/au-test-ran
	assert_failure 125
	assert_regex "$stderr" "au: entrypoint: started in a login session's cgroup .*session-au.*, not in a scope of its own"
	assert [ ! -e /tmp/au-test-ran ]
}

@test "with systemd but no user manager to ask, au refuses before anything runs" {
	fake_systemd_run scope
	run --separate-stderr as_human au run --no-login touch /tmp/au-test-ran
	assert_failure 1
	assert_regex "$stderr" "^au: cannot run agent 'agent' out of your login session: no systemd user manager to ask for a scope"
	assert_regex "$stderr" "hint: "
	assert [ ! -e /tmp/au-test-ran ]
	assert [ ! -e "$log" ]
}
