#!/usr/bin/env bats
# Ctrl-Z in au run on a terminal, as under sudo's use_pty: the agent's job stops, au
# stops, the human's shell has the terminal back, and fg resumes both (issue 13, item 4).

# shellcheck disable=SC2016 # what is typed into a terminal expands there, not here

load helpers
load terminal

TMUX_SOCKET=au-test-job-control

setup() {
	require_world
	fresh_config
	local out
	out=$(as_human au new --yes 2>&1) || fail "au new failed: $out"
	term_n=0
}

teardown() {
	runuser -u "$AU_HUMAN" -- tmux -L "$TMUX_SOCKET" kill-server 2>/dev/null || true
	world_teardown
}

# The state letter (ps's stat) of the agent's process named NAME, or nothing.
agent_state() {
	local pid
	pid=$(pgrep -u agent -x "$1" | head -n 1)
	[[ -n $pid ]] && ps -o stat= -p "$pid" | cut -c1
}

agent_sleep_stopped() {
	[[ $(agent_state sleep) == T ]]
}

@test "Ctrl-Z stops the agent's job and au, gives the shell back, and fg resumes both" {
	term_start
	# The words are split in what is typed, so that only the command's output matches.
	term_type "au run sh -c 'echo sta''rted; sleep 3; echo fini''shed'"
	term_wait '^started'
	term_keys C-z
	term_wait 'Stopped +au run'
	term_wait 'alice\$ $'
	# Stopped for real: the agent's sleep does not run on.
	wait_for agent_sleep_stopped
	sleep 4
	run term_screen
	refute_output --partial finished
	assert_equal "$(agent_state sleep)" T
	# The shell has the terminal, in its own modes: it runs commands.
	term_run 'jobs'
	assert_equal "$term_status" 0
	term_wait '^\[1\]\+ +Stopped +au run'

	term_run 'fg' 20
	assert_equal "$term_status" 0
	term_wait '^finished'
}

@test "an interactive shell of the agent's keeps Ctrl-Z for its own jobs" {
	term_start
	term_type 'au run bash --norc --noprofile -i'
	term_wait 'bash-[0-9.]+\$ $'
	term_type 'sleep 30'
	sleep 0.5
	term_keys C-z
	# The agent's bash stops its job, and stays: au is not stopped.
	term_wait 'Stopped +sleep 30'
	term_type 'echo still-in-''the-agents-shell; kill -KILL %1'
	term_wait '^still-in-the-agents-shell'
	term_type 'exit'
	term_wait '^still-in-the-agents-shell'
	term_wait 'alice\$ $'
	run term_screen
	refute_output --regexp 'Stopped +au run'
}
