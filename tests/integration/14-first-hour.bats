#!/usr/bin/env bats
# The first hour with au, as a careful new user lives it (issue 13): the usual mistakes
# and surprises, each with what au now says or does instead.

load helpers

setup() {
	require_world
	fresh_config
	home=$(human_home)
}

teardown() {
	world_teardown
	rm -rf --one-file-system /home/agent
}

new_agent() {
	local out
	out=$(as_human au new --yes "$@" 2>&1) || fail "au new failed: $out"
}

# As the human's session from before au new: without the agent's group.
as_human_without_group() {
	setpriv --reuid="$AU_HUMAN" --regid="$AU_HUMAN" --clear-groups env HOME="$home" "$AU_PREFIX/bin/au" "$@" </dev/null
}

# --- item 5: joining the group where there is no login password -------------------------

@test "au new tells how to join the group without a password: newgrp, not su - \$USER" {
	run --separate-stderr as_human au new --yes
	assert_success
	assert_regex "$stderr" "newgrp su-as-agent"
	refute_regex "$stderr" "su - "
	refute_regex "$stderr" '\$USER'
	# What it says works for an account without a password (the usual cloud machine).
	passwd --delete "$AU_HUMAN" >/dev/null
	run as_human sh -c 'echo "id -nG" | newgrp su-as-agent'
	assert_success
	assert_output --partial su-as-agent

	# A session from before au new: no group su-as-agent in it.
	run --separate-stderr as_human_without_group info
	assert_line --regexp "broken +this session has group 'su-as-agent': log in again, or run 'newgrp su-as-agent'"
	run grep -F 'su - $USER' "$AU_REPO/README.md"
	assert_failure
}

# --- item 6: names whose group groupadd refuses ----------------------------------------

@test "a name of 27 to 31 characters is refused up front (its group would be too long), 26 works" {
	local name

	for name in abcdefghijklmnopqrstuvwxyza abcdefghijklmnopqrstuvwxyzabcde; do
		run --separate-stderr as_human au new --yes -a "$name"
		assert_failure 2
		assert_regex "$stderr" "agent name '$name' is too long: its group 'su-as-$name' would have [0-9]+ characters, and groupadd takes at most 32"
		run getent passwd "$name"
		assert_failure
		run --separate-stderr as_human au list
		assert_output "No agents configured."
	done
	# What groupadd itself says, so that the limit is the system's and not a guess.
	run groupadd su-as-abcdefghijklmnopqrstuvwxyza
	assert_failure

	name=abcdefghijklmnopqrstuvwxyz
	run --separate-stderr as_human au new --yes -a "$name"
	assert_success
	run getent group "su-as-$name"
	assert_success
	run grep -F "up to 25 of" "$AU_REPO/man/au.1"
	assert_success
}

# --- item 7: an explicit LANG or TERM wins over the human's -------------------------------

@test "-e TERM=, -e LANG= and au env set LANG= win over the human's own TERM and LANG" {
	new_agent
	run --separate-stderr as_human env TERM=xterm-256color LANG=C.UTF-8 \
		au run --no-login -e TERM=dumb -e LANG=POSIX printenv TERM LANG
	assert_success
	assert_equal "$output" $'dumb\nPOSIX'

	as_human au env set LANG=C >/dev/null
	run --separate-stderr as_human env LANG=C.UTF-8 TERM=xterm au run --no-login printenv LANG TERM
	assert_success
	assert_equal "$output" $'C\nxterm'
}

# --- item 10: a FIFO in the config's place ------------------------------------------------

@test "a config that is a FIFO is refused at once, not waited on" {
	install -d -o "$AU_HUMAN" -g "$AU_HUMAN" "$home/.config"
	runuser -u "$AU_HUMAN" -- mkfifo "$(human_config)"

	run --separate-stderr timeout 20 su - "$AU_HUMAN" -c 'au list' </dev/null
	assert_failure 1
	assert_regex "$stderr" "cannot read '$(human_config)': not a regular file"
}

# --- item 11: -d with the human's path --------------------------------------------------

@test "au run -d ~/project maps a shared folder to the agent's path; an unshared one is refused with the way out" {
	new_agent
	as_human mkdir -p project/sub other
	as_human au mount add project >/dev/null

	run --separate-stderr as_human au run --no-login -d "$home/project/sub" pwd
	assert_success
	assert_output /home/agent/project/sub
	run --separate-stderr as_human au run --no-login -d /home/agent pwd
	assert_output /home/agent

	run --separate-stderr as_human au run --no-login -d "$home/other" pwd
	assert_failure 1
	assert_output ""
	assert_regex "$stderr" "'$home/other' is in your home, but not in a folder shared with agent 'agent'"
	assert_regex "$stderr" "hint: .*/home/agent.*au mount add -a agent $home/other"
}

# --- item 12: au's words for a command that is not found or cannot run ---------------------

@test "a command that is not found or cannot run is said in au's words, with or without --no-login" {
	new_agent
	local login

	for login in "" --no-login; do
		run -127 --separate-stderr as_human au run $login no-such-command-au-test
		assert_failure 127
		assert_equal "$stderr" "au: 'no-such-command-au-test': command not found"
		run -126 --separate-stderr as_human au run $login /etc/passwd
		assert_failure 126
		assert_equal "$stderr" "au: cannot run '/etc/passwd': Permission denied"
	done
}

# --- item 14: small things ------------------------------------------------------------

@test "sharing an empty folder read-write says 1 entry, not 1 entries" {
	new_agent
	as_human mkdir empty
	run --separate-stderr as_human au mount add --rw empty
	assert_success
	assert_line --regexp '^  1 entry changed, 0 already as wanted$'
}

@test "the group warning is not repeated on every command: au list says nothing of it" {
	new_agent
	run --separate-stderr as_human_without_group list
	assert_success
	assert_equal "$stderr" ""
	run --separate-stderr as_human_without_group mount list
	assert_equal "$stderr" ""
	# au info still says it, with the way to get the group.
	run --separate-stderr as_human_without_group info
	assert_line --regexp "broken +this session has group 'su-as-agent'"
}

@test "answering n to au new leaves nothing behind: no ~/.config, no lock file" {
	rm -rf "$home/.config"
	run as_human --stdin script -qec 'au new' /dev/null <<<"n"
	assert_output --partial "Nothing done."
	assert [ ! -e "$home/.config" ]
	run getent passwd agent
	assert_failure
}

@test "au env set KEY with KEY unset in the human's environment says so" {
	new_agent
	run --separate-stderr as_human env -u AU_TEST_UNSET au env set AU_TEST_UNSET
	assert_success
	assert_regex "$stderr" "AU_TEST_UNSET is not set in your environment now"
	assert_regex "$stderr" "hint: export AU_TEST_UNSET .* au env set -a agent AU_TEST_UNSET=VALUE"
	run --separate-stderr as_human env AU_TEST_SET=1 au env set AU_TEST_SET
	assert_equal "$stderr" ""
}

@test "a config others can write is refused, with the chmod that fixes it" {
	new_agent
	chmod 0666 "$(human_config)"
	run --separate-stderr as_human au list
	assert_failure 1
	assert_regex "$stderr" "is writable by others \(mode 0666\): refusing to use it"
	assert_regex "$stderr" "hint: chmod 600 '$(human_config)'"
	chmod 0600 "$(human_config)"
	run --separate-stderr as_human au list
	assert_success
}

@test "the temporary folder named by au new's compile line is removed by a printed command" {
	run --separate-stderr as_human au new --yes
	assert_success
	local tmpdir
	tmpdir=$(grep -Eo -- '-o /[^ ]+/su_as_agent$' <<<"$output" | sed -E 's|^-o (.*)/su_as_agent$|\1|')
	[[ -n $tmpdir ]] || fail "no compile line in: $output"
	assert_line "\$ rm -rf -- $tmpdir"
	assert [ ! -e "$tmpdir" ]
}

# --- item 3: a folder shared onto a file ------------------------------------------------

@test "a folder shared onto a file is refused at mount add; one the agent puts in the way later is named with its fix" {
	new_agent
	as_human mkdir project
	# au new left a README.md in the agent's home.
	run --separate-stderr as_human au mount add project /home/agent/README.md
	assert_failure 1
	assert_regex "$stderr" "'/home/agent/README.md' is a file in the agent's home, and '$home/project' a folder: one cannot be mounted on the other"
	run --separate-stderr as_human au mount list
	assert_output "No mounts for agent agent."

	as_human au mount add project >/dev/null
	# The agent puts a file where the share goes.
	su agent -s /bin/sh -c 'rm -rf /home/agent/project && echo x >/home/agent/project' </dev/null
	run --separate-stderr as_human au run --no-login true
	assert_failure 125
	assert_regex "$stderr" "cannot share '$home/project' at '/home/agent/project': the source is a folder and the target a file"
	assert_regex "$stderr" "hint: .*au mount remove -a agent $home/project"
	run --separate-stderr as_human au info
	assert_failure 1
	assert_line --regexp "broken +share $home/project: the target is a file, the source a folder: .*au mount remove -a agent $home/project"
}

# --- item 16: au info says what au run would refuse ---------------------------------------

@test "au info reports a share whose source became a symlink, which au run refuses" {
	new_agent
	as_human mkdir project
	as_human au mount add project >/dev/null
	run --separate-stderr as_human au info
	assert_success
	assert_line --regexp "ok +share $home/project"

	as_human sh -c 'mv project project.real && ln -s project.real project'
	run --separate-stderr as_human au run --no-login true
	assert_failure 125
	run --separate-stderr as_human au info
	assert_failure 1
	assert_line --regexp "broken +share $home/project: '$home/project' is a symlink, which au run refuses to follow: au run refuses to start; 'au mount remove -a agent $home/project' removes it"
	refute_output --partial "Healthy."
}
