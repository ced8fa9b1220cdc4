#!/usr/bin/env bats
# au run, as the human meets it: the command runs as the agent and as nothing more, in a
# scrubbed environment, with its arguments, its standard input and its exit status intact.

load helpers

setup() {
	require_world
	fresh_config
	local out
	out=$(as_human au new --yes 2>&1) || fail "au new failed: $out"
}

teardown() {
	rm -f /etc/sudoers.d/au-test-agent
	world_teardown
}

@test "au run id: the agent's uid, gid and group, and none of the human's groups" {
	# The human in one more group, so that a leak would show.
	groupadd au-test-humans
	usermod --append --groups au-test-humans "$AU_HUMAN"
	run as_human id -nG
	assert_output --partial au-test-humans

	run --separate-stderr as_human au run id
	assert_success
	assert_output "uid=$(id -u agent)(agent) gid=$(getent group su-as-agent | cut -d: -f3)(su-as-agent) groups=$(getent group su-as-agent | cut -d: -f3)(su-as-agent)"
	refute_output --partial "$AU_HUMAN"
	refute_output --partial au-test-humans
}

@test "au run scrubs the environment: no SECRET, and the agent's HOME and USER" {
	run --separate-stderr as_human env SECRET=x au run env
	assert_success
	refute_line --regexp '^SECRET='
	assert_line HOME=/home/agent
	assert_line USER=agent
	assert_line LOGNAME=agent
}

@test "au run --env KEY=VALUE splits at the first '=' only" {
	run --separate-stderr as_human au run --env FOO=a=b printenv FOO
	assert_success
	assert_output "a=b"
}

@test "au run --env KEY passes the human's value of KEY" {
	run --separate-stderr as_human env FOO=from-alice au run --env FOO printenv FOO
	assert_success
	assert_output "from-alice"
}

@test "au run --env with an invalid name is a usage error and runs nothing" {
	run --separate-stderr as_human au run --env 'BAD-KEY=1' touch /home/agent/ran
	assert_failure 2
	assert_regex "$stderr" "BAD-KEY"
	assert_regex "$stderr" "Try 'au run --help'\.\$"
	assert [ ! -e /home/agent/ran ]
}

@test "au run passes the exit status through: 0, 1 and 42" {
	local code

	for code in 0 1 42; do
		run --separate-stderr as_human au run sh -c "exit $code"
		assert_equal "$status" "$code"
	done
}

@test "au run of a command that does not exist exits 127" {
	run -127 --separate-stderr as_human au run no-such-command-au-test
	assert_failure 127
	assert_regex "$stderr" "no-such-command-au-test"
}

@test "au run returns 128+N when signal N ends the command" {
	run --separate-stderr as_human au run sh -c 'kill -TERM $$'
	assert_failure 143
	run --separate-stderr as_human au run sh -c 'kill -KILL $$'
	assert_failure 137
}

@test "au run goes through the agent's login shell, and --no-login does not" {
	echo 'export FROM_PROFILE=yes' >/home/agent/.profile
	chown agent:su-as-agent /home/agent/.profile

	run --separate-stderr as_human au run printenv FROM_PROFILE
	assert_success
	assert_output yes
	run --separate-stderr as_human au run --no-login printenv FROM_PROFILE
	assert_failure 1
	assert_output ""
}

@test "au run starts in the agent's home, or in the folder -d names" {
	run --separate-stderr as_human au run pwd
	assert_success
	assert_output /home/agent

	run --separate-stderr as_human au run -d /tmp pwd
	assert_success
	assert_output /tmp
	run --separate-stderr as_human au run --directory /tmp --no-login pwd
	assert_output /tmp
}

@test "au run ls -la passes -la to ls, with or without --" {
	local form

	for form in "" "--"; do
		# shellcheck disable=SC2086 # an empty form is no argument
		run --separate-stderr as_human au run $form ls -la /home/agent
		assert_success
		assert_line --index 0 --regexp '^total [0-9]+'
		assert_line --regexp ' \.gitconfig$'
		assert_line --regexp '^-.* agent +su-as-agent .* README\.md$'
	done
}

@test "au run sudo fails, even for an agent that sudoers lets in (no_new_privs)" {
	# Where nothing stops it, the agent becomes root.
	install -m 0440 /dev/null /etc/sudoers.d/au-test-agent
	echo 'agent ALL=(ALL:ALL) NOPASSWD: ALL' >/etc/sudoers.d/au-test-agent
	run su agent -s /bin/sh -c 'sudo -n id -u' </dev/null
	assert_success
	assert_output 0

	run --separate-stderr as_human au run sudo -n id -u
	assert_failure
	refute_output 0
	assert_regex "$stderr" "no new privileges"
}

@test "au run passes standard input through to the command" {
	printf 'a\nb\n' >"$BATS_TEST_TMPDIR/input"
	chmod 0644 "$BATS_TEST_TMPDIR/input"

	run --separate-stderr as_human --stdin au run sort -r <"$BATS_TEST_TMPDIR/input"
	assert_success
	assert_output "b
a"
}

@test "au run works right after au new, in the same session, through sg with a hint" {
	# A second agent, made and run from one shell, which is not in su-as-bob yet.
	run --separate-stderr su - "$AU_HUMAN" -c 'au new --yes -a bob >/dev/null && au run -a bob id -un' </dev/null
	assert_success
	assert_output bob
	assert_regex "$stderr" "hint: .*going through 'sg su-as-bob'"
}

@test "au run --keep-running leaves a background process running, and returns at once" {
	local started elapsed

	started=$SECONDS
	run --separate-stderr as_human au run --keep-running sh -c 'sleep 20 </dev/null >/dev/null 2>&1 & echo started'
	elapsed=$((SECONDS - started))
	assert_success
	assert_output started
	# The agent's init, kept for the background process, must not hold au run's standard
	# output and error open, or whoever reads them (a pipe, $(...), this test) would wait
	# until the last kept process ends.
	assert [ "$elapsed" -lt 10 ]
	run pgrep --uid "$(id -u agent)" --exact sleep
	assert_success
}

@test "au run without --keep-running ends the command's background processes" {
	run --separate-stderr as_human au run sh -c 'sleep 60 </dev/null >/dev/null 2>&1 & echo started'
	assert_success
	assert_output started
	run pgrep --uid "$(id -u agent)"
	assert_failure
}
