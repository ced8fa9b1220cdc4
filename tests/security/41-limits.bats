#!/usr/bin/env bats
# What a runaway or hostile agent can do to the machine and to the human's session is
# bounded: its memory (without swap), its tasks and its CPU time are limited in a
# cgroup of the run's own, and the run never outlives au, however au ends. Each test
# first shows the attack working without the limit (or without au), then failing.
#
# Cgroups are the machine's and other test runs use them at the same time: a test only
# looks at the cgroup of its own run, found from the agent's process.

load ../integration/helpers
load ../integration/terminal

setup() {
	require_world
	fresh_config
	local out
	out=$(as_human au new --yes 2>&1) || fail "au new failed: $out"
	rm -f /tmp/au-test-*
}

teardown() {
	rm -f /tmp/au-test-*
	world_teardown
}

# The run's cgroup directories, from the agent's process PID, seen from outside.
run_cgroups_of() {
	local line
	while IFS= read -r line; do
		case $line in
		0::/au/*) echo "/sys/fs/cgroup/unified${line#0::}" ;;
		*:pids:/au/* | *:memory:/au/*) echo "/sys/fs/cgroup/$(cut -d: -f2 <<<"$line")/${line#*:*:/}" ;;
		esac
	done <"/proc/$1/cgroup"
}

# The usage line's peak memory, in MiB (integer part), from au run --stats's stderr.
peak_mib() {
	sed -nE 's/.*peak memory ([0-9]+)\.[0-9] MiB.*/\1/p' <<<"$1"
}

# --- memory ----------------------------------------------------------------------

@test "a memory hog is killed at the memory limit, the command around it goes on, and au reports it" {
	local hog='a = bytearray(256 * 2**20); print("allocated")'

	# Without a limit, 256 MiB is there for the taking.
	run --separate-stderr as_human au run --no-login /usr/bin/python3 -c "$hog"
	assert_success
	assert_output allocated

	run --separate-stderr as_human au run --stats --limit memory=64M --no-login \
		sh -c "/usr/bin/python3 -c '$hog'; echo \"hog ended with \$?\""
	assert_success
	refute_output --partial allocated
	# SIGKILL: the kernel's OOM killer took the biggest process, not the shell.
	assert_output "hog ended with 137"
	assert_regex "$stderr" "au: usage: .*peak memory [0-9.]+ MiB.*, 1 OOM kill"
	local peak
	peak=$(peak_mib "$stderr")
	assert [ "$peak" -le 64 ]
}

@test "the usage line reports a known peak of memory and tasks" {
	run --separate-stderr as_human au run --stats --no-login sh -c '
		for i in 1 2 3 4 5 6 7 8 9 10; do sleep 1 & done
		/usr/bin/python3 -c "a = bytearray(100 * 2**20); a[::4096] = b\"x\" * len(a[::4096])"
		wait'
	assert_success
	local peak tasks
	peak=$(peak_mib "$stderr")
	tasks=$(sed -nE 's/.*peak tasks ([0-9]+).*/\1/p' <<<"$stderr")
	echo "# $stderr"
	# 100 MiB of the interpreter's, and its own few: not all of the machine's.
	assert [ "$peak" -ge 100 ]
	assert [ "$peak" -lt 200 ]
	# init, sh, ten sleeps.
	assert [ "$tasks" -ge 12 ]
	assert [ "$tasks" -lt 20 ]
	refute_output --partial "OOM kill"
}

# --- tasks -----------------------------------------------------------------------

@test "a fork bomb stops at the task limit while the human's shell stays responsive" {
	# Without a tasks limit, the agent can have 200 processes at once.
	run --separate-stderr as_human au run --no-login bash -c '
		for i in $(seq 200); do sleep 10 & done; sleep 2; echo "$(pgrep -c sleep) sleeping"; kill $(jobs -p)'
	assert_output "200 sleeping"

	# The bomb, for 6 s (the command then becomes a sleep, without a fork), with 64
	# tasks at most.
	as_human au run --stats --limit tasks=64 --no-login bash -c \
		'bomb() { bomb | bomb & }; bomb; exec sleep 6' >/dev/null 2>/tmp/au-test-bomb 3>&- &
	local au_pid=$! pid=
	wait_for pgrep -u agent -x sleep >/dev/null
	sleep 1
	pid=$(pgrep -u agent -x sleep)
	assert [ -n "$pid" ]
	local pids_dir
	pids_dir=$(run_cgroups_of "$pid" | grep /pids/)
	# The human forks and runs commands as usual meanwhile.
	local i
	for i in 1 2 3 4 5; do
		run as_human sh -c 'echo responsive'
		assert_output responsive
		assert [ "$(cat "$pids_dir/pids.current")" -le 64 ]
	done
	assert [ "$(pgrep -c -u agent)" -le 64 ]
	wait "$au_pid" || true
	# The limit was met: the bomb tried for more.
	assert [ "$(sed -nE 's/.*peak tasks ([0-9]+).*/\1/p' /tmp/au-test-bomb)" -le 64 ]
	assert [ "$(sed -nE 's/.*peak tasks ([0-9]+).*/\1/p' /tmp/au-test-bomb)" -ge 40 ]
	run pgrep -u agent
	assert_failure
}

# --- CPU ---------------------------------------------------------------------------

# The CPU seconds (as "S.CC") of a busy loop of 3 s wall time, from the usage line.
busy_cpu() {
	as_human au run --stats "$@" --no-login timeout 3 sh -c 'while :; do :; done' 2>&1 >/dev/null |
		sed -nE 's/.*CPU ([0-9]+\.[0-9]+) s.*/\1/p'
}

@test "the CPU limit bites: a busy loop gets 10% of a CPU and no more" {
	local free limited
	# Without a limit, it takes whatever CPU the machine has free: more than 10%.
	free=$(busy_cpu)
	echo "# CPU time of 3 s busy without a limit: $free s"
	assert [ -n "$free" ]
	# A bound, not a speed: 10% of 3 s is 0.3 s, the scheduler's slack on top.
	limited=$(busy_cpu --limit cpu=10%)
	echo "# ... with cpu=10%: $limited s"
	assert [ -n "$limited" ]
	assert awk -v t="$limited" 'BEGIN { exit !(t <= 0.45) }'
	assert awk -v t="$free" 'BEGIN { exit !(t > 0.45) }'
}

# --- the run dies with au ---------------------------------------------------------

# As the human without a terminal: au run CMD in the background, then kill -9 of au
# once the agent's sleep runs, and how many agent processes are left 2 s later.
kill_au_and_count() {
	as_human timeout 60 sh -c '
		au run "$@" </dev/null >/dev/null 2>&1 &
		au_pid=$!
		i=0
		while ! pgrep -u agent -x sleep >/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		pgrep -u agent -x sleep >/dev/null && echo "the agent runs"
		kill -KILL $au_pid
		sleep 2
		echo "left: $(pgrep -c -u agent)"' au "$@"
}

@test "kill -9 of au without a terminal leaves no agent process 2 s later" {
	mkdir -p "$(human_home)/project"
	chown "$AU_HUMAN:" "$(human_home)/project"

	# Without au's tie to it, a process that loses its parent lives on.
	run as_human sh -c 'sh -c "sleep 30 & echo \$!" >/tmp/au-test-orphan; sleep 2; kill -0 $(cat /tmp/au-test-orphan) && echo orphan-lives'
	assert_output orphan-lives
	pkill -f 'sleep 30' || true

	# au becomes the entrypoint (nothing to wait for afterwards).
	run kill_au_and_count --no-login sh -c 'sleep 300 & sleep 300'
	assert_line "the agent runs"
	assert_line "left: 0"
	# au stays the entrypoint's parent: with --stats, and with a read-write share.
	run kill_au_and_count --stats --no-login sh -c 'sleep 300 & sleep 300'
	assert_line "the agent runs"
	assert_line "left: 0"
	as_human au mount add --rw project >/dev/null
	run kill_au_and_count --no-login sh -c 'sleep 300 & sleep 300'
	assert_line "the agent runs"
	assert_line "left: 0"
	# Even what --keep-running would keep, while the command still runs.
	run kill_au_and_count --keep-running --no-login sh -c 'sleep 300 & sleep 300'
	assert_line "the agent runs"
	assert_line "left: 0"
}

@test "kill -9 of au leaves no cgroup of the run behind" {
	as_human au run --stats --no-login sleep 300 </dev/null >/dev/null 2>&1 3>&- &
	local au_pid=$! dirs
	wait_for pgrep -u agent -x sleep
	dirs=$(run_cgroups_of "$(pgrep -u agent -x sleep)")
	assert [ -n "$dirs" ]
	local d
	for d in $dirs; do
		assert [ -d "$d" ]
	done
	pkill -KILL -x au
	wait "$au_pid" || true
	wait_for bash -c '! pgrep -u agent >/dev/null'
	# The sweeper removes it once the last process is gone.
	for d in $dirs; do
		wait_for test ! -e "$d"
	done
}

@test "au survives a signal it does not pass on, ends the run and still checks the read-write shares" {
	as_human sh -c 'mkdir -p project && cd project && git init -q . && mkdir src && echo hi >src/a.c'
	as_human au mount add --rw project >/dev/null
	# A signal whose default is to end a process, as au's was.
	run as_human sh -c 'sleep 30 & p=$!; sleep 0.5; kill -ALRM $p; wait $p; echo "sleep ended with $?"'
	assert_line "sleep ended with 142"

	# The agent turns a folder of the human's into a trap for her next git command
	# (a bare-looking repository, see 21-git-traps.bats), then waits.
	as_human sh -c 'au run --no-login sh -c "cd project && mkdir -p src/objects src/refs/heads && echo ref: refs/heads/main >src/HEAD && exec sleep 300"' \
		>/dev/null 2>/tmp/au-test-stderr 3>&- &
	local au_pid=$!
	wait_for pgrep -u agent -x sleep
	pkill -ALRM -x au
	wait "$au_pid" || true
	run pgrep -u agent
	assert_failure
	# The audit ran: the trap was moved aside.
	run cat /tmp/au-test-stderr
	assert_output --partial "appeared at '$(human_home)/project/src/HEAD' while the agent ran: moved it aside"
	assert [ ! -e "$(human_home)/project/src/HEAD" ]
}
