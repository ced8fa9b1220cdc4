#!/usr/bin/env bats
# au never runs or waits on what the agent controls. "au mount add" used to run git as the
# agent (through au run) to keep safe.directory in step, and waited for it: the agent's
# ~/.gitconfig made a FIFO hung it for good. Now au writes the safe.directory entries
# itself, in a file of the human's that the entrypoint binds read-only where the agent's git
# reads it. And every file au opens where the agent could have put something is opened
# without blocking, and only when it is a regular file. Each test first shows the trap with
# plain git or cat.

load shares

setup() {
	shares_setup
	as_human sh -c 'cd project && git init -q && git -c user.name=A -c user.email=a@x commit -q --allow-empty -m init'
}

teardown() {
	shares_teardown
}

@test "mount add and remove never run the agent's git: a FIFO as its ~/.gitconfig does not hang them" {
	as_agent 'rm -f ~/.gitconfig && mkfifo ~/.gitconfig'

	# Without the defence: what au used to run, as the agent, never returns (setpriv execs
	# git itself, so that timeout stops git, not only a shell around it).
	run timeout 10 setpriv --reuid=agent --regid=su-as-agent --clear-groups \
		env HOME=/home/agent git config --global --add safe.directory /home/agent/project </dev/null
	assert_equal "$status" 124

	run --separate-stderr timeout 120 su - "$AU_HUMAN" -c 'au mount add --rw project' </dev/null
	assert_success
	refute_output --partial "au run"
	run --separate-stderr timeout 120 su - "$AU_HUMAN" -c 'au mount remove project' </dev/null
	assert_success
	# Nothing of the agent's ran from the human's commands.
	run pgrep -u agent
	assert_failure
}

@test "the agent's git accepts the human's repository in a share, from au's own read-only file" {
	as_human au mount add --rw project

	run --separate-stderr as_human au run --no-login -- git -C /home/agent/project status --short
	assert_success
	assert_equal "$stderr" ""
	run --separate-stderr as_human au run --no-login -- git config --show-scope --show-origin --get-all safe.directory
	assert_line $'global\tfile:/home/agent/.config/git/config\t/home/agent/project'
	# The file is the human's, outside every share; the agent cannot change it.
	assert_equal "$(stat -c %U "$home/.local/state/au/agent/gitconfig")" "$AU_HUMAN"
	run --separate-stderr as_human au run --no-login -- sh -c 'echo "[safe] directory = *" >>~/.config/git/config'
	assert_failure
	assert_regex "$stderr" 'Permission denied|Read-only file system'
	# Its own global settings stay its own.
	run --separate-stderr as_human au run --no-login -- git config --global user.name Someone
	assert_success
}

@test "a FIFO planted where au opens its config does not hang it" {
	as_human au mount add --rw project
	run --separate-stderr as_human au run --no-login -- mkfifo project/agent.toml
	assert_success

	# Without the defence: reading it waits for a writer that never comes.
	run timeout 5 setpriv --reuid="$AU_HUMAN" --regid="$AU_HUMAN" --init-groups cat "$home/project/agent.toml" </dev/null
	assert_equal "$status" 124

	run --separate-stderr timeout 60 su - "$AU_HUMAN" -c "au -C $home/project/agent.toml list" </dev/null
	assert_failure 1
	assert_regex "$stderr" "not a regular file"
	run --separate-stderr timeout 60 su - "$AU_HUMAN" -c "au -C $home/project/agent.toml mount list" </dev/null
	assert_failure 1
}
