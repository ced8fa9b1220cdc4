#!/usr/bin/env bats
# au limit, au run --limit, --stats and -v, as the human meets them: limits stored in
# the agent's entry of the config, one-line errors that leave the config as it was, a
# usage line only when asked, and what --keep-running keeps shown by au info.

load helpers
load terminal

setup() {
	require_world
	fresh_config
	local out
	out=$(as_human au new --yes 2>&1) || fail "au new failed: $out"
}

@test "au limit set, list and unset: the limits live in the agent's entry of the config" {
	run --separate-stderr as_human au limit list
	assert_success
	assert_output "No limits for agent agent (tasks are capped at 8192 over all its runs)."

	run --separate-stderr as_human au limit set memory=16G cpu=150% tasks=512
	assert_success
	assert_line "Limited memory=16G for agent agent"
	run grep -x 'limits = \["memory=16G", "cpu=150%", "tasks=512"\]' "$(human_config)"
	assert_success

	run --separate-stderr as_human au limit set memory=8G
	run --separate-stderr as_human au limit list
	assert_output "memory=8G
cpu=150%
tasks=512"

	run --separate-stderr as_human au limit unset cpu tasks
	assert_success
	assert_output "Unlimited cpu for agent agent
Unlimited tasks for agent agent"
	run --separate-stderr as_human au limit list
	assert_output "memory=8G"
}

@test "a bad limit is a one-line usage error, and the config stays as it was" {
	as_human au limit set memory=1G >/dev/null
	local before
	before=$(sha256sum <"$(human_config)")

	local bad
	for bad in memory=16GB cpu=150 tasks=1 swap=0 memory 'memory=1G cpu=x'; do
		# shellcheck disable=SC2086 # several operands on purpose
		run --separate-stderr as_human au limit set $bad
		assert_failure 2
		assert_regex "$stderr" "^au: limit set: "
		assert_equal "$(grep -c '^au:' <<<"$stderr")" 1
		assert_equal "$(sha256sum <"$(human_config)")" "$before"
	done
	run --separate-stderr as_human au limit unset disk
	assert_failure 2
	run --separate-stderr as_human au limit unset cpu
	assert_failure 1
	assert_equal "$stderr" "au: cpu is not limited for agent agent"
	assert_equal "$(sha256sum <"$(human_config)")" "$before"
}

@test "au run is quiet about usage by default, and --stats prints one usage line on stderr" {
	run --separate-stderr as_human au run --no-login echo hi
	assert_success
	assert_output hi
	assert_equal "$stderr" ""

	run --separate-stderr as_human au run --stats --no-login echo hi
	assert_success
	assert_output hi
	assert_regex "$stderr" '^au: usage: wall [0-9]+\.[0-9]{2} s, CPU [0-9]+\.[0-9]{2} s \(user [0-9.]+ s, system [0-9.]+ s\), peak memory [0-9.]+ [KMG]iB, peak tasks [0-9]+$'
}

@test "au run -v says the limits, where the run lived, and the usage" {
	as_human au limit set memory=512M >/dev/null
	run --separate-stderr as_human au run -v --limit tasks=100 --no-login true
	assert_success
	assert_regex "$stderr" 'au: limits: memory 512\.0 MiB, tasks 100'
	assert_regex "$stderr" 'au: the run lived in a cgroup of its own \(cgroup v[12]'
	assert_regex "$stderr" 'au: usage: wall '
}

@test "au run --limit overrides a stored limit for one run, and KEY=max lifts it" {
	as_human au limit set tasks=50 >/dev/null
	run --separate-stderr as_human au run --no-login bash -c 'ulimit -Hu'
	assert_output 50
	run --separate-stderr as_human au run --limit tasks=70 --no-login bash -c 'ulimit -Hu'
	assert_output 70
	run --separate-stderr as_human au run --limit tasks=max --no-login bash -c 'ulimit -Hu'
	assert_output 8192
	# A bad one runs nothing.
	run --separate-stderr as_human au run --limit tasks=lots --no-login touch /tmp/au-test-ran
	assert_failure 2
	assert_regex "$stderr" "^au: run: --limit: tasks 'lots' is not a number"
	assert [ ! -e /tmp/au-test-ran ]
}

@test "au info lists what --keep-running kept, and nothing once it has ended" {
	run --separate-stderr as_human au info
	assert_line "Running:     nothing"

	run --separate-stderr timeout 30 su - "$AU_HUMAN" -c \
		"au run --keep-running --no-login sh -c 'sleep 300 >/dev/null 2>&1 &'" </dev/null
	assert_success
	wait_for pgrep -u agent -x sleep
	run --separate-stderr as_human au info
	assert_line "Running:"
	assert_line --regexp '^  [0-9]+ +sleep 300$'

	pkill -u agent -x sleep
	wait_for bash -c '! pgrep -u agent >/dev/null'
	run --separate-stderr as_human au info
	assert_line "Running:     nothing"
}

@test "au info escapes the command lines the agent chose" {
	run --separate-stderr as_human au run --keep-running --no-login bash -c \
		'exec -a "$(printf "x\033]0;pwned\007")" sleep 300 >/dev/null 2>&1 &'
	assert_success
	wait_for pgrep -u agent sleep
	run --separate-stderr as_human au info
	assert_line --regexp '^  [0-9]+ +x\\x1b\]0;pwned\\x07 300$'
	refute_output --partial $'\033'
	pkill -u agent
}

@test "every run leaves its cgroup behind it removed" {
	as_human au run --no-login sleep 2 </dev/null >/dev/null 2>&1 3>&- &
	local au_pid=$! line dirs=
	wait_for pgrep -u agent -x sleep
	while IFS= read -r line; do
		case $line in
		0::/au/*) dirs+=" /sys/fs/cgroup/unified${line#0::}" ;;
		*:pids:/au/*) dirs+=" /sys/fs/cgroup/pids/${line#*:*:/}" ;;
		esac
	done <"/proc/$(pgrep -u agent -x sleep)/cgroup"
	assert [ -n "$dirs" ]
	wait "$au_pid"
	local d
	for d in $dirs; do
		assert [ ! -e "$d" ]
	done
}

@test "runs of one agent at once each get a cgroup of their own, and all succeed" {
	# They make and remove the same au/agent parents as they start and end: a run
	# that finds a parent gone under it starts again.
	run --separate-stderr as_human sh -c '
		for i in 1 2 3 4 5 6 7 8 9 10; do
			(au run --no-login bash -c "cat /proc/self/cgroup >/dev/null; sleep 0.\$((RANDOM % 5))" ||
				echo "run $i failed") &
		done
		wait
		echo done'
	assert_success
	assert_output done
	assert_equal "$stderr" ""
}
