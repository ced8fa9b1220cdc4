#!/usr/bin/env bats
# Nothing of the human's login session reaches the agent: the setuid switch changes
# the uid, and nothing else the kernel ties to a login. The human's session keyring
# (pam_keyinit joins one at login, and su - here does), the SysV and POSIX IPC objects
# of the human's, and the login session's cgroup all survive a plain setuid. Each test
# first shows the attack working for a process of the agent's made without au
# (setpriv, which changes the uid and nothing else), then failing inside au run.

load ../integration/helpers
load ../integration/terminal

setup() {
	require_world
	fresh_config
	local out
	out=$(as_human au new --yes 2>&1) || fail "au new failed: $out"
	agent_uid=$(id -u agent)
	agent_gid=$(id -g agent)
}

teardown() {
	# IPC objects are the machine's (the world has no IPC namespace of its own): only ours go.
	[[ -n ${human_shmid:-} ]] && ipcrm -m "$human_shmid" 2>/dev/null
	rm -f "/dev/shm/$IPC_NAME"
	/usr/bin/python3 -c "import ctypes; ctypes.CDLL('librt.so.1').mq_unlink(b'/$IPC_NAME')" 2>/dev/null || true
	if [[ -n ${session_cgroups:-} ]]; then
		local dir
		for dir in $session_cgroups; do
			rmdir "$dir" "$(dirname "$dir")" 2>/dev/null || true
		done
	fi
	world_teardown
}

# As the agent without au: the uid and groups change, and nothing else (the keyring,
# IPC namespace and cgroups stay the caller's), as after a bare setuid.
as_agent_without_au() {
	setpriv --reuid="$agent_uid" --regid="$agent_gid" --clear-groups "$@"
}

# --- keyrings ----------------------------------------------------------------------

@test "the agent cannot read or search a key in the human's session keyring or user keyring" {
	# The human's login (su -, with pam_keyinit) has a session keyring; she keeps a
	# secret in it and one in her user keyring, linked into the session's as logins do.
	# Without au, in that session, a process of the agent's possesses both.
	run --separate-stderr as_human sh -c '
		keyctl add user au-test-session s3cret-session @s >/dev/null &&
		keyctl add user au-test-user s3cret-user @u >/dev/null &&
		keyctl link @u @s &&
		sudo -n setpriv --reuid=agent --regid=su-as-agent --clear-groups sh -c "
			keyctl print %user:au-test-session; keyctl search @s user au-test-user >/dev/null && echo found-user-key"'
	assert_success
	assert_line s3cret-session
	assert_line found-user-key

	run --separate-stderr as_human sh -c '
		keyctl add user au-test-session s3cret-session @s >/dev/null &&
		keyctl add user au-test-user s3cret-user @u >/dev/null &&
		keyctl link @u @s &&
		echo "human session keyring: $(keyctl show @s | head -n 2 | tail -n 1)" >&2 &&
		au run --no-login sh -c "
			keyctl print %user:au-test-session; keyctl search @s user au-test-user && echo found-user-key
			keyctl show @s"'
	refute_output --partial s3cret
	refute_output --partial found-user-key
	# The agent possesses a keyring of its own: the anonymous session keyring joined
	# as the agent, owned by the agent's uid, and not the human's.
	assert_line --regexp "^ *[0-9]+ --alswrv +$agent_uid +$agent_uid +keyring: _ses\$"
	local human_ring agent_ring
	human_ring=$(grep -oE 'session keyring: +[0-9]+' <<<"$stderr" | grep -oE '[0-9]+$')
	agent_ring=$(grep -oE '^ *[0-9]+ --alswrv.*_ses$' <<<"$output" | awk '{print $1}')
	assert [ -n "$human_ring" ]
	assert [ -n "$agent_ring" ]
	assert [ "$human_ring" != "$agent_ring" ]
}

# --- IPC -----------------------------------------------------------------------------

# This run's names for the POSIX queue and shm object.
IPC_NAME=au-test-ipc-$$

# The human makes a SysV shared memory segment, a POSIX message queue and a POSIX
# shared memory object, each with mode 0666.
make_human_ipc() {
	human_shmid=$(as_human ipcmk --shmem 4096 --mode 0666 | grep -oE '[0-9]+$')
	assert [ -n "$human_shmid" ]
	as_human /usr/bin/python3 -c "
import ctypes, os
rt = ctypes.CDLL('librt.so.1', use_errno=True)
os.umask(0)
if rt.mq_open(b'/$IPC_NAME', os.O_CREAT | os.O_RDWR, 0o666, None) < 0:
    raise OSError(ctypes.get_errno(), 'mq_open')"
	as_human sh -c "umask 0; echo human-shm >/dev/shm/$IPC_NAME"
}

# What the agent reaches of them: the SysV segment, the queue, the shm object.
probe_ipc() {
	echo "
import ctypes, os
libc = ctypes.CDLL('libc.so.6', use_errno=True)
rt = ctypes.CDLL('librt.so.1', use_errno=True)
print('sysv:', libc.shmat($human_shmid, None, 0) not in (None, -1, ctypes.c_void_p(-1).value))
print('mqueue:', rt.mq_open(b'/$IPC_NAME', os.O_RDWR) >= 0)
print('shm:', os.path.exists('/dev/shm/$IPC_NAME'))
"
}

@test "the agent cannot see a SysV segment, POSIX queue or POSIX shm object the human made with mode 0666" {
	make_human_ipc

	run --separate-stderr as_agent_without_au /usr/bin/python3 -c "$(probe_ipc)"
	assert_success
	assert_line "sysv: True"
	assert_line "mqueue: True"
	assert_line "shm: True"

	run --separate-stderr as_human au run --no-login /usr/bin/python3 -c "$(probe_ipc)"
	assert_success
	assert_line "sysv: False"
	assert_line "mqueue: False"
	assert_line "shm: False"
}

@test "the agent's /dev/shm is its own tmpfs, nosuid and nodev, where it can work" {
	run --separate-stderr as_human au run --no-login sh -c '
		echo mine >/dev/shm/x && cat /dev/shm/x && findmnt -no FSTYPE,OPTIONS /dev/shm'
	assert_success
	assert_line mine
	assert_line --regexp '^tmpfs .*nosuid.*nodev'
}

# --- the login session's cgroup ----------------------------------------------------

# A login session as logind or elogind makes it: the human's shell in a
# session-N.scope cgroup, on the v2 hierarchy and on the v1 one that tracks sessions.
# Cgroups are the machine's, not the world's: the name is this test's own.
enter_session_scope() {
	local name=session-au$$-$RANDOM.scope dir
	session_cgroups=
	for dir in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd /sys/fs/cgroup; do
		if [[ $(stat -fc %T "$dir" 2>/dev/null) == cgroup2fs || -e $dir/tasks ]]; then
			mkdir -p "$dir/au-test-user.slice/$name"
			session_cgroups+=" $dir/au-test-user.slice/$name"
		fi
	done
	assert [ -n "$session_cgroups" ]
}

# CMD... run as the human from inside the session's cgroups.
in_session() {
	local cmd
	cmd="for d in $session_cgroups; do echo \$\$ >\$d/cgroup.procs; done; exec su - $AU_HUMAN -c $(printf '%q' "$(printf '%q ' "$@")")"
	bash -c "$cmd" </dev/null
}

@test "/proc/self/cgroup inside the agent shows no trace of the human's session" {
	enter_session_scope

	# Without au: the agent's process stays in the human's session scope.
	run in_session sudo -n setpriv --reuid=agent --regid=su-as-agent --clear-groups cat /proc/self/cgroup
	assert_success
	assert_output --partial "/au-test-user.slice/session-au"

	run --separate-stderr in_session au run --no-login sh -c 'cat /proc/self/cgroup; sleep 2 & cat /proc/$!/cgroup'
	assert_success
	refute_output --partial session-
	refute_output --partial au-test-user.slice
	# Its view starts at its own cgroup, which is all it knows of the host's tree.
	assert_line '0::/'

	# Seen from outside too: the agent's processes are in no session's cgroup.
	in_session au run --no-login sleep 3 >/dev/null 2>&1 3>&- &
	local pid
	wait_for pgrep -u agent -x sleep
	pid=$(pgrep -u agent -x sleep)
	run cat "/proc/$pid/cgroup"
	refute_output --partial session-
	assert_output --regexp '0::/au/agent/run-[0-9]+-[0-9a-f]{8}$'
	wait
}

# Out of its cgroup (into the root one), and with "lift", its limits lifted.
ESCAPE='
	for d in /sys/fs/cgroup/unified /sys/fs/cgroup/pids /sys/fs/cgroup/memory; do
		[ -e $d/cgroup.procs ] || continue
		echo $$ 2>/dev/null >$d/cgroup.procs && echo "moved out in $d"
		[ "$1" = lift ] || continue
		for f in $d/au/agent/run-*/pids.max; do
			[ -e "$f" ] && echo max 2>/dev/null >"$f" && echo "lifted pids.max in $d"
		done
	done
	ulimit -c unlimited 2>/dev/null && echo "core dumps on"
	echo "nproc $(ulimit -Su)/$(ulimit -Hu) core $(ulimit -Sc)/$(ulimit -Hc)"'

@test "the agent cannot move itself out of its cgroup, nor lift its limits" {
	# Root can: the writes are real ones (but no other run's limits are touched).
	run bash -c "$ESCAPE"
	assert_output --partial "moved out"
	# Core dumps too, where root's hard core limit is above 0. Where it is 0 (sudo 1.9.13
	# gives its command that, and root cannot raise it without CAP_SYS_RESOURCE, as in CI's
	# containers) nothing can turn them on, with au or without: that case is left out.
	if [[ $(ulimit -Hc) == 0 ]]; then
		echo "# the hard core limit is 0 here: the core-dump case cannot be shown, and is left out" >&3
	else
		assert_output --partial "core dumps on"
	fi

	run --separate-stderr as_human au run --no-login --limit tasks=64 bash -c "$ESCAPE" escape lift
	refute_output --partial "moved out"
	refute_output --partial lifted
	refute_output --partial "core dumps on"
	# A hard limit, which the agent can only lower.
	assert_line "nproc 64/64 core 0/0"
}
