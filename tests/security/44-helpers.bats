#!/usr/bin/env bats
# Root through a tool that au runs from the human's PATH: a project's .venv/bin or
# node_modules/.bin in a read-write share is the agent's to write, and a PATH that holds it
# would give sudo, cc (which compiles the setuid entrypoint), setfacl or useradd from there.
# au takes every helper from root's folders (sudo's secure_path), with PATH set to them,
# and warns about a PATH folder the agent can write. Each test first shows the trap with
# the shell's own lookup.

load shares

setup() {
	shares_setup
	as_human au mount add --rw project
	as_human mkdir -p project/.venv/bin
	# The agent's programs, named like every helper au runs: each leaves a mark, then runs
	# the real one, so that nothing else changes.
	local name
	for name in sudo cc gcc x86_64-linux-gnu-gcc musl-gcc x86_64-linux-musl-gcc as ld collect2 \
		setfacl install useradd groupadd usermod userdel groupdel chgrp chmod rm rmdir pkill sg git bash; do
		printf '#!/bin/sh\ntouch /tmp/pwned-%s\nexec /usr/bin/%s "$@"\n' "$name" "$name" >"$home/project/.venv/bin/$name"
	done
	chmod 755 "$home"/project/.venv/bin/*
	run --separate-stderr as_human au run --no-login -- sh -c 'chown agent project/.venv/bin/*' || true
	chown -R agent "$home/project/.venv/bin"
	venv_path="$home/project/.venv/bin:/opt/au/bin:/usr/local/bin:/usr/bin:/bin"
}

teardown() {
	shares_teardown
}

@test "au new and au delete run every helper from root's folders, never from a PATH through a share" {
	# Without the defence: the shell's lookup finds the agent's sudo first.
	run su - "$AU_HUMAN" -c "env PATH=$venv_path sudo true" </dev/null
	assert_success
	assert [ -e /tmp/pwned-sudo ]
	rm -f /tmp/pwned-*

	run --separate-stderr su - "$AU_HUMAN" -c "env PATH=$venv_path au new -a second --yes" </dev/null
	assert_success
	run ls /tmp
	refute_output --partial pwned
	run --separate-stderr su - "$AU_HUMAN" -c "env PATH=$venv_path au delete -a second --yes" </dev/null
	assert_success
	run ls /tmp
	refute_output --partial pwned
}

# TMPDIR in a read-write share: au new compiles the setuid entrypoint there, and the agent
# could swap the folder holding it before "sudo install" copies it.
@test "au new does not compile in a TMPDIR the agent can write" {
	as_human mkdir -p project/tmp/au-new-x
	# Without the defence: the agent moves what the human makes there.
	run --separate-stderr as_human au run --no-login -- mv project/tmp/au-new-x project/tmp/mine
	assert_success
	assert [ -d "$home/project/tmp/mine" ]

	run --separate-stderr su - "$AU_HUMAN" -c "env TMPDIR=$home/project/tmp au new -a third --yes" </dev/null
	assert_success
	assert_regex "$stderr" "warning: not compiling in TMPDIR '$home/project/tmp': .* is writable by others than its owner; using /tmp"
	run ls "$home/project/tmp"
	assert_output mine
}

@test "au run and au info warn about a folder of the human's PATH that the agent can write" {
	# Without the defence: a name the human types runs the agent's program, as her.
	run su - "$AU_HUMAN" -c "env PATH=$venv_path git --version" </dev/null
	assert [ "$(stat -c %U /tmp/pwned-git)" = "$AU_HUMAN" ]
	rm -f /tmp/pwned-*

	run --separate-stderr su - "$AU_HUMAN" -c "env PATH=$venv_path au run --no-login -- true" </dev/null
	assert_success
	assert_regex "$stderr" "warning: your PATH holds '$home/project/.venv/bin', and agent 'agent' can write '$home/project' on the way to it: a program it puts there runs as you"
	run --separate-stderr su - "$AU_HUMAN" -c "env PATH=$venv_path au info" </dev/null
	assert_failure 1
	assert_line --partial "broken  your PATH holds no folder the agent can write"

	# A folder writable by everyone, and one on the way to a folder of PATH, count too.
	as_human mkdir -p project/tools/bin
	run --separate-stderr su - "$AU_HUMAN" -c "env PATH=/tmp:$home/project/tools/bin:/usr/bin:/bin $AU_PREFIX/bin/au run --no-login -- true" </dev/null
	assert_regex "$stderr" "warning: your PATH holds '/tmp', which agent 'agent' can write"
	assert_regex "$stderr" "warning: your PATH holds '$home/project/tools/bin'"

	# A PATH of root's folders says nothing.
	run --separate-stderr su - "$AU_HUMAN" -c "env PATH=/opt/au/bin:/usr/bin:/bin au run --no-login -- true" </dev/null
	assert_success
	assert_equal "$stderr" ""
}
