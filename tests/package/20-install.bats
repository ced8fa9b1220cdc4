#!/usr/bin/env bats
# The Debian package, as a user meets it: 'apt-get install ./au_*.deb', then the demo
# story against the installed au (PREFIX=/usr); the man page and each shell's completion
# found where the package put them; and upgrades with agents present.

load package

setup() {
	require_package_world
	fresh_config
	deb=$(the_deb) || fail "no package: tools/build-deb failed"
	purge_au
}

teardown() {
	world_teardown
	purge_au
}

@test "apt-get install ./au_*.deb, then the demo story runs against the installed au" {
	run apt_install "$deb"
	assert_success
	assert_equal "$(dpkg-query -W -f='${db:Status-Status}' au)" installed
	assert [ -x /usr/bin/au ]

	run env PREFIX=/usr bash "$AU_REPO/tools/demo-story"
	echo "$output"
	assert_success
	assert_line --partial "Created agent agent"
	assert_line "hello from the agent"
	refute_line --partial UNEXPECTED
}

@test "the installed man page and completions are found without any set-up" {
	apt_install "$deb" >/dev/null
	run as_human man -w au
	assert_output /usr/share/man/man1/au.1.gz
	# bash: the human's ~/.bashrc (Debian's skeleton) loads bash-completion, which loads au's.
	run as_human bash -ic '__load_completion au && complete -p au'
	assert_output --partial "complete -F _au au"
	run as_human zsh -fc 'autoload -Uz compinit && compinit -u && print -r -- $_comps[au]'
	assert_output _au
	run as_human fish -c 'complete -C "au mou"'
	assert_output --regexp '^mount'
}

# An agent with a read-write share, made by the installed au; it writes there.
agent_with_share() {
	as_human au new --yes -a "$1" >/dev/null
	as_human mkdir -p "$1-project"
	as_human au mount add --rw -a "$1" "$1-project" >/dev/null
	as_human au run -a "$1" --no-login -- sh -c "echo made by $1 >$1-project/note"
	assert_equal "$(cat "$(human_home)/$1-project/note")" "made by $1"
}

# health: "CHECK VERDICT" for each health item of au info --json -a NAME.
health() {
	as_human au info --json -a "$1" | python3 -c '
import json, sys
for h in json.load(sys.stdin)["health"]:
    print(h["check"], h["verdict"])'
}

@test "an upgrade that keeps the entrypoint source keeps the agents working, with nothing to do" {
	apt_install "$deb" >/dev/null
	agent_with_share agent
	local newer
	newer=$(repack_as "$deb" "$(dpkg-deb -f "$deb" Version)+test1" "$BATS_TEST_TMPDIR") || fail "no newer package"

	run apt_install "$newer"
	assert_success
	assert_equal "$(dpkg-query -W -f='${Version}' au)" "$(dpkg-deb -f "$deb" Version)+test1"

	run --separate-stderr as_human au info
	assert_success
	run as_human au run --no-login -- cat agent-project/note
	assert_success
	assert_output "made by agent"
}

@test "an upgrade that brings a new entrypoint source: au info names it, au repair --all rebuilds each agent's, and they work again" {
	apt_install "$deb" >/dev/null
	agent_with_share agent
	agent_with_share bob
	local newer
	newer=$(build_variant "$BATS_TEST_TMPDIR" "$(dpkg-deb -f "$deb" Version)+test2" \
		'echo "/* a change of the entrypoint source, made by the upgrade test */" >>entrypoint/su_as_agent.c') ||
		fail "the variant did not build"

	run apt_install "$newer"
	assert_success

	# Nothing of the agents was lost: users, config, shares.
	run --separate-stderr as_human au list --json
	assert_output --partial '"name":"agent"'
	assert_output --partial '"name":"bob"'
	run --separate-stderr as_human au mount list -a bob --json
	assert_output --partial "\"source\":\"$(human_home)/bob-project\""
	# au info says which piece is out of date, and names the command that rebuilds it.
	for name in agent bob; do
		run health "$name"
		assert_line "entrypoint_source broken"
		refute_line "entrypoint_sha256 broken"
		run --separate-stderr as_human au info -a "$name"
		assert_failure 1
		assert_line --regexp "^  broken  .*'au repair -a $name'"
	done

	# One command rebuilds each agent's entrypoint (au repair, of issue 13).
	if ! as_human au repair --help >/dev/null 2>&1; then
		skip "au repair is not in this au yet (issue 13, item 8, branch lifecycle)"
	fi
	run --separate-stderr as_human au repair --all --yes
	echo "$stderr"
	assert_success
	for name in agent bob; do
		run --separate-stderr as_human au info -a "$name"
		assert_success
		run as_human au run -a "$name" --no-login -- cat "$name-project/note"
		assert_success
		assert_output "made by $name"
	done
	run grep -c "^entrypoint_source_sha256 = \"$(sha256sum </usr/share/agent-as-unix-user/su_as_agent.c | cut -d' ' -f1)\"\$" "$(human_config)"
	assert_output 2
}
