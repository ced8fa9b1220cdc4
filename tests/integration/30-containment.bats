#!/usr/bin/env bats
# The containment of au run, as the human meets it: a terminal program works through the
# pty relay and leaves the human's terminal as it was; the agent lives in a PID namespace
# of its own, where the human's processes do not exist, and whatever it starts ends with
# the command (unless --keep-running); signals and exit statuses pass through; pipes
# carry bytes exactly.
#
# The terminal is a real one: a tmux server run by the human, driven with send-keys and
# read with capture-pane, waiting (bounded) for text rather than sleeping.

# shellcheck disable=SC2016 # what is typed into a terminal expands there, not here

load helpers
load terminal

TMUX_SOCKET=au-test-containment
TERM_DIR=/tmp/au-test-containment

setup() {
	require_world
	fresh_config
	local out
	out=$(as_human au new --yes 2>&1) || fail "au new failed: $out"
	rm -rf "$TERM_DIR"
	install -d -o "$AU_HUMAN" -g "$AU_HUMAN" -m 0755 "$TERM_DIR"
	term_n=0
}

teardown() {
	runuser -u "$AU_HUMAN" -- tmux -L "$TMUX_SOCKET" kill-server 2>/dev/null || true
	if [[ -n ${human_sleep_pid:-} ]]; then
		kill -KILL "$human_sleep_pid" 2>/dev/null || true
	fi
	rm -rf "$TERM_DIR"
	world_teardown
}

# --- the human's terminal ----------------------------------------------------------

# The human's terminal modes, as stty -g prints them in her shell, saved to FILE.
save_human_modes() {
	term_run "stty -g >$TERM_DIR/$1"
	assert_equal "$term_status" 0
}

# --- a terminal program through au run ---------------------------------------------

@test "au run bash in a terminal: the agent's prompt, typing, Ctrl-C, a resize, Ctrl-D back home" {
	term_start
	save_human_modes modes-before

	term_n=$((term_n + 1))
	term_type "au run bash; echo \"<\$? done-\$(($term_n + 0))>\""
	term_type 'echo "I am $(whoami)"'
	term_wait '^I am agent$'
	term_wait '^agent@'

	# Typed input echoes, before Enter, through the relay and the agent's pty.
	term_keys -l 'typed-but-not-run'
	term_wait 'agent@.*typed-but-not-run'
	term_keys C-u

	# Ctrl-C reaches the agent's foreground job, and its shell comes back.
	term_type 'sleep 100'
	wait_for pgrep -u agent -x sleep
	term_keys C-c
	wait_for bash -c '! pgrep -u agent -x sleep'
	term_type 'echo "<$? back-$((1 + 0))>"'
	term_wait '<130 back-1>'

	# The window grows; the agent's terminal grows with it.
	tmux_as_human resize-window -t s -x 120
	term_type 'for i in 1 2 3 4 5 6 7 8 9 10; do [ "$(tput cols)" = 120 ] && break; sleep 0.5; done; echo "cols=$(tput cols)"'
	term_wait '^cols=120$'

	# Ctrl-D leaves the agent's shell, and au with it.
	term_keys C-d
	term_wait "<0 done-$term_n>"
	term_run 'whoami'
	assert_equal "$(term_screen | grep -xE 'alice|agent' | tail -n 1)" alice

	save_human_modes modes-after
	assert_equal "$(cat "$TERM_DIR/modes-after")" "$(cat "$TERM_DIR/modes-before")"
	run pgrep -u agent
	assert_failure
}

@test "au run bash, then exit: the human's shell is back with its terminal modes" {
	term_start
	save_human_modes modes-before

	term_n=$((term_n + 1))
	term_type "au run bash; echo \"<\$? done-\$(($term_n + 0))>\""
	term_wait '^agent@'
	term_type 'exit 7'
	term_wait "<7 done-$term_n>"

	save_human_modes modes-after
	assert_equal "$(cat "$TERM_DIR/modes-after")" "$(cat "$TERM_DIR/modes-before")"
}

@test "the agent killed with SIGKILL from outside: au returns and the terminal modes are restored" {
	term_start
	save_human_modes modes-before

	term_n=$((term_n + 1))
	term_type "au run bash; echo \"<\$? done-\$(($term_n + 0))>\""
	term_wait '^agent@'
	wait_for pgrep -u agent -x bash

	pkill -KILL -u agent
	term_wait "<137 done-$term_n>"
	run pgrep -u agent
	assert_failure

	save_human_modes modes-after
	assert_equal "$(cat "$TERM_DIR/modes-after")" "$(cat "$TERM_DIR/modes-before")"
}

@test "kill -TERM of au in a terminal ends the agent's command with 143 and restores the modes" {
	term_start
	save_human_modes modes-before

	term_n=$((term_n + 1))
	term_type "au run sleep 100; echo \"<\$? done-\$(($term_n + 0))>\""
	wait_for pgrep -u agent -x sleep
	# au is the human's process named au whose parent is her shell.
	local au_pid
	au_pid=$(pgrep -u "$AU_HUMAN" -x au)
	assert [ -n "$au_pid" ]

	kill -TERM "$au_pid"
	term_wait "<143 done-$term_n>"
	run pgrep -u agent
	assert_failure

	save_human_modes modes-after
	assert_equal "$(cat "$TERM_DIR/modes-after")" "$(cat "$TERM_DIR/modes-before")"
}

# --- exit statuses and signals -----------------------------------------------------

@test "exit statuses pass through in a terminal: 0, 1, 42, 143 and 137" {
	term_start
	local cmd expected

	for cmd in 'exit 0:0' 'exit 1:1' 'exit 42:42' 'kill -TERM $$:143' 'kill -KILL $$:137'; do
		expected=${cmd##*:}
		cmd=${cmd%:*}
		term_run "au run sh -c '$cmd'"
		echo "au run sh -c '$cmd' in a terminal: $term_status"
		assert_equal "$term_status" "$expected"
	done
}

@test "exit statuses pass through without a terminal, with and without --no-login" {
	local cmd expected login

	for login in "" --no-login; do
		for cmd in 'exit 0:0' 'exit 1:1' 'exit 42:42' 'kill -TERM $$:143' 'kill -KILL $$:137'; do
			expected=${cmd##*:}
			cmd=${cmd%:*}
			# shellcheck disable=SC2086 # an empty $login is no argument
			run --separate-stderr as_human au run $login sh -c "$cmd"
			echo "au run $login sh -c '$cmd': $status"
			assert_equal "$status" "$expected"
		done
	done
}

@test "kill -TERM of au without a terminal ends the agent's command, and au exits 143" {
	run --separate-stderr as_human timeout 30 sh -c '
		au run sleep 100 </dev/null >/dev/null 2>&1 &
		au_pid=$!
		i=0
		while ! pgrep -u agent -x sleep >/dev/null && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		pgrep -u agent -x sleep >/dev/null && echo "sleep is running"
		kill -TERM $au_pid
		wait $au_pid
		echo "au exited $?"'
	assert_success
	assert_line "sleep is running"
	assert_line "au exited 143"
	run pgrep -u agent
	assert_failure
}

# --- pipes -------------------------------------------------------------------------

@test "a pipe through au run: printf a b | au run sort -r prints b then a" {
	run --separate-stderr as_human sh -c "printf 'a\nb\n' | au run sort -r"
	assert_success
	assert_output "b
a"
}

@test "10 MB of random bytes through au run cat come out exact, with and without --no-login" {
	local login

	head -c 10M /dev/urandom >"$TERM_DIR/in"
	chown "$AU_HUMAN:$AU_HUMAN" "$TERM_DIR/in"
	for login in "" --no-login; do
		rm -f "$TERM_DIR/out"
		run --separate-stderr as_human sh -c "au run $login cat <$TERM_DIR/in >$TERM_DIR/out"
		assert_success
		assert_equal "$(stat -c %s "$TERM_DIR/out")" 10485760
		assert_equal "$(sha256sum <"$TERM_DIR/out")" "$(sha256sum <"$TERM_DIR/in")"
	done
}

# --- the PID namespace -------------------------------------------------------------

@test "background processes of the agent are gone once au run returns" {
	# Their output goes elsewhere, so that a survivor cannot hold this test's pipe open;
	# au must return with the command, not 300 s later when they would end (124).
	run --separate-stderr timeout 30 su - "$AU_HUMAN" -c \
		"au run sh -c 'sleep 300 >/dev/null 2>&1 & sleep 300 >/dev/null 2>&1 & echo started'" </dev/null
	assert_success
	assert_output started
	run pgrep -u agent
	assert_failure
	assert_output ""
}

@test "au run --keep-running leaves the agent's background processes running" {
	run --separate-stderr timeout 30 su - "$AU_HUMAN" -c \
		"au run --keep-running sh -c 'sleep 300 >/dev/null 2>&1 & echo started'" </dev/null
	assert_success
	assert_output started
	# The namespace's init must not die with the outer side of the entrypoint, which
	# exits as soon as the command has.
	sleep 1
	run pgrep -u agent -x sleep
	assert_success
}

@test "inside au run, ps shows only the agent's processes, with the entrypoint as pid 1" {
	# Outside, the human's shell and au are there to be seen.
	local world_init
	world_init=$(tr '\0' ' ' </proc/1/cmdline)

	run --separate-stderr as_human au run ps -eo pid=,user=,args=
	assert_success
	echo "# ps ax inside au run:"
	printf '#   %s\n' "${lines[@]}"
	assert_line --regexp '^ *1 agent +su_as_agent au2 '
	refute_output --partial "$AU_HUMAN"
	refute_output --regexp ' au run '
	refute_output --partial "$world_init"
	local line
	for line in "${lines[@]}"; do
		assert_regex "$line" '^ *[0-9]+ agent '
	done

	run --separate-stderr as_human au run --no-login sh -c 'tr "\0" " " </proc/1/cmdline'
	assert_success
	assert_output --regexp '^su_as_agent au2 '
	refute_output --partial "$world_init"
}

@test "a process of the human is visible to the agent without au, and does not exist inside au run" {
	# setpriv execs: $! is the sleep itself. No fd of bats's (3) may stay open in it.
	setpriv --reuid="$AU_HUMAN" --regid="$AU_HUMAN" --init-groups sleep 300 </dev/null >/dev/null 2>&1 3>&- &
	human_sleep_pid=$!
	local pid=$human_sleep_pid
	wait_for pgrep -u "$AU_HUMAN" -x sleep
	# Well above the few pids of a fresh namespace, so that no agent process has it.
	assert [ "$pid" -gt 100 ]

	# As the agent, but without au: it sees the process (and only lacks the permission).
	run su -s /bin/sh agent -c "ps -o user=,args= -p $pid; kill -0 $pid" </dev/null
	assert_line --regexp "^$AU_HUMAN +sleep 300\$"
	assert_output --partial "Operation not permitted"

	run --separate-stderr as_human au run sh -c "ps -o user=,args= -p $pid; kill -0 $pid"
	assert_failure
	refute_output --partial "sleep 300"
	assert_regex "$stderr" "No such process"
}
