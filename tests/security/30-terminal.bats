#!/usr/bin/env bats
# The agent never gets the human's terminal. Where it does (a program run in the human's
# shell, a daemon holding the terminal after its session left), it types commands into
# the human's shell with TIOCSTI (bubblewrap CVE-2017-5226), reads what she types next
# (util-linux #760), and opens /dev/tty behind redirections. Each attack is shown to work
# without au, then to fail against au run: a pty of its own when there is a terminal, no
# controlling terminal at all when there is none.
#
# The terminal is a real one: a tmux server run by the human, driven with send-keys and
# read with capture-pane, waiting (bounded) for text rather than sleeping.

# shellcheck disable=SC2016 # what is typed into a terminal expands there, not here

load ../integration/helpers
load ../integration/terminal

TMUX_SOCKET=au-test-terminal
# The human's files: the attack programs, and the markers her shell would make.
TERM_DIR=/tmp/au-test-terminal
# Where the agent's daemon writes what it stole (anyone may write there).
LOOT_DIR=/tmp/au-test-loot

setup() {
	require_world
	fresh_config
	local out
	out=$(as_human au new --yes 2>&1) || fail "au new failed: $out"
	rm -rf "$TERM_DIR" "$LOOT_DIR"
	install -d -o "$AU_HUMAN" -g "$AU_HUMAN" -m 0755 "$TERM_DIR"
	install -d -m 1777 "$LOOT_DIR"
	term_n=0
	saved_legacy_tiocsti=
}

teardown() {
	runuser -u "$AU_HUMAN" -- tmux -L "$TMUX_SOCKET" kill-server 2>/dev/null || true
	if [[ -n $saved_legacy_tiocsti ]]; then
		echo "$saved_legacy_tiocsti" >/proc/sys/dev/tty/legacy_tiocsti
	fi
	pkill -KILL -f "$TERM_DIR/thief" 2>/dev/null || true
	rm -rf "$TERM_DIR" "$LOOT_DIR"
	world_teardown
}

# --- TIOCSTI -------------------------------------------------------------------------

# The attack: push "touch $TERM_DIR/pwned" and Enter into the terminal's input, one byte
# at a time. Whoever reads the terminal next runs it.
build_tiocsti() {
	if [[ $(cat /proc/sys/dev/tty/legacy_tiocsti 2>/dev/null) == 0 ]]; then
		saved_legacy_tiocsti=0
		echo 1 >/proc/sys/dev/tty/legacy_tiocsti
	fi
	cat >"$TERM_DIR/tiocsti.c" <<-EOF
		#include <stdio.h>
		#include <sys/ioctl.h>

		int main(void)
		{
			const char *p = "touch $TERM_DIR/pwned\n";
			int n = 0;

			for (; *p; p++, n++) {
				if (ioctl(0, TIOCSTI, p) < 0) {
					perror("TIOCSTI");
					return 1;
				}
			}
			printf("injected %d bytes\n", n);
			return 0;
		}
	EOF
	cc -Wall -o "$TERM_DIR/tiocsti" "$TERM_DIR/tiocsti.c"
	chmod 0755 "$TERM_DIR/tiocsti"
}

@test "TIOCSTI: run in the human's shell it types a command there; through au run nothing arrives" {
	build_tiocsti
	term_start

	# Without au: once the program exits, the human's shell reads the line it pushed.
	term_run "$TERM_DIR/tiocsti"
	assert_equal "$term_status" 0
	wait_for test -e "$TERM_DIR/pwned"
	assert_equal "$(stat -c %U "$TERM_DIR/pwned")" "$AU_HUMAN"
	rm -f "$TERM_DIR/pwned"

	# Through au run: the same bytes go into the agent's own pty, which dies with it.
	term_run "au run $TERM_DIR/tiocsti"
	assert_equal "$term_status" 0
	term_wait '^injected 34 bytes'
	# Anything pushed into the human's terminal would be read before this line.
	term_run 'echo after'
	assert_equal "$term_status" 0
	assert [ ! -e "$TERM_DIR/pwned" ]
}

@test "TIOCSTI a second after the command exits: into the human's shell without au, nowhere with au run" {
	build_tiocsti
	# A daemon that outlives the command, keeps its terminal as fd 0 (3 carries it past
	# sh's /dev/null for background jobs), ignores the hang-up when its session leader
	# exits, and types into the terminal a second later.
	cat >"$TERM_DIR/late-injector" <<-EOF
		#!/bin/sh
		trap '' HUP
		exec 3<&0
		(sleep 1; $TERM_DIR/tiocsti >$LOOT_DIR/injector 2>&1) <&3 &
	EOF
	chmod 0755 "$TERM_DIR/late-injector"
	term_start

	# Without au: the idle shell of the human runs what the daemon typed.
	term_run "$TERM_DIR/late-injector"
	assert_equal "$term_status" 0
	wait_for test -e "$TERM_DIR/pwned"
	assert_equal "$(stat -c %U "$TERM_DIR/pwned")" "$AU_HUMAN"
	rm -f "$TERM_DIR/pwned" "$LOOT_DIR/injector"

	# Through au run --keep-running (so the daemon survives the command): its terminal
	# is a pty that hung up when au returned.
	term_run "au run --keep-running $TERM_DIR/late-injector"
	assert_equal "$term_status" 0
	wait_for test -s "$LOOT_DIR/injector"
	# EIO: the daemon's terminal is au's pty, hung up (not the human's, where even a
	# daemon without it as controlling terminal would get EPERM).
	run cat "$LOOT_DIR/injector"
	assert_output "TIOCSTI: Input/output error"
	refute_output --partial injected
	term_run 'echo after'
	assert [ ! -e "$TERM_DIR/pwned" ]
}

# --- a daemon left behind ------------------------------------------------------------

# The attack: a daemon that ignores hang-ups, leaves the session (so that job control no
# longer stops it from reading the terminal, util-linux #760), opens /dev/tty, then reads
# its fd 0, and writes what it got where its owner can fetch it. $LOOT_DIR/ready says it
# is reading.
write_thief() {
	cat >"$TERM_DIR/thief" <<-EOF
		#!/bin/sh
		# Like nohup: the hang-up when the session leader exits must not end the daemon
		# before it has left the session.
		trap '' HUP
		# -f: setsid forks itself; sh's own & would give the daemon /dev/null as fd 0.
		setsid -f sh -c '
			sleep 1
			cat /dev/tty >$LOOT_DIR/stolen 2>&1
			touch $LOOT_DIR/ready
			read -r x
			echo "read: \$x" >$LOOT_DIR/stolen2
		'
	EOF
	chmod 0755 "$TERM_DIR/thief"
}

# steal_password HOW: run the thief HOW (a command prefix) in the human's shell, then
# have her run a slow command and type "hunter2" ahead while it runs, as people do.
steal_password() {
	term_n=$((term_n + 1))
	term_type "$1 $TERM_DIR/thief; sleep 4; echo \"<\$? done-\$(($term_n + 0))>\""
	wait_for test -e "$LOOT_DIR/ready"
	# The daemon is in read(2) a moment after it says so.
	sleep 0.3
	term_type hunter2
	term_wait "<[0-9]+ done-$term_n>"
}

@test "a daemon left behind reads what the human types next without au, and nothing through au run" {
	write_thief
	term_start

	# Without au: the daemon, run from the human's shell, takes the password.
	steal_password ""
	wait_for test -e "$LOOT_DIR/stolen2"
	run cat "$LOOT_DIR/stolen2"
	assert_output "read: hunter2"
	rm -f "$LOOT_DIR"/*

	# Through au run --keep-running (so the daemon survives the command): it reads a
	# pty that hung up when au returned, and the password goes to the human's shell.
	steal_password "au run --keep-running"
	term_wait '^(-bash: |bash: )?hunter2: command not found'
	wait_for test -e "$LOOT_DIR/stolen2"
	run cat "$LOOT_DIR/stolen" "$LOOT_DIR/stolen2"
	refute_output --partial hunter2
	assert_line "read: "
}

# --- no terminal at all ----------------------------------------------------------------

@test "with every standard fd redirected, /dev/tty is the human's terminal without au, and absent in au run" {
	term_start

	# Without au: behind the redirections, /dev/tty still reaches the human's window.
	term_run "sh -c 'echo \"via-dev-tty-\$((1 + 1))\" >/dev/tty' </dev/null 2>$TERM_DIR/err | cat >$TERM_DIR/out; (exit \${PIPESTATUS[0]})"
	assert_equal "$term_status" 0
	term_wait '^via-dev-tty-2$'

	# Through au run, in the same pipeline: no pty (no standard fd is a terminal), and no
	# controlling terminal either.
	term_run "au run sh -c 'echo \"via-dev-tty-\$((2 + 1))\" >/dev/tty; cat /dev/tty' </dev/null 2>$TERM_DIR/err | cat >$TERM_DIR/out; (exit \${PIPESTATUS[0]})"
	assert_equal "$term_status" 1
	run cat "$TERM_DIR/err"
	assert_output --regexp '/dev/tty: No such device or address'
	assert_equal "$(grep -c 'No such device or address' "$TERM_DIR/err")" 2
	refute [ -s "$TERM_DIR/out" ]
	run term_screen
	refute_line via-dev-tty-3
}
