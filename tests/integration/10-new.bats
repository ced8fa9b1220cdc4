#!/usr/bin/env bats
# au new, as the human meets it: every system command printed, then a user, a group, a
# shared home and a setuid entrypoint that are really there; and the refusals.

load helpers

setup() {
	require_world
	fresh_config
}

teardown() {
	world_teardown
	# A home folder without a user, which world_teardown does not know of.
	rm -rf --one-file-system /home/bob
}

entrypoint_of() {
	echo "$AU_PREFIX/libexec/agent-as-unix-user/$1/su_as_agent"
}

# The value of KEY in the config's only (or first) agent.
config_value() {
	sed -n "s/^$1 = //p" "$(human_config)" | head -n 1
}

# The printed system commands ("$ ..." lines of $output) match the regexes given, in that
# order; other commands may come in between.
assert_commands_in_order() {
	local -a printed=()
	local line i=0 regex

	while IFS= read -r line; do
		[[ $line == '$ '* ]] && printed+=("$line")
	done <<<"$output"
	for regex in "$@"; do
		while ((i < ${#printed[@]})) && ! [[ ${printed[i]} =~ $regex ]]; do
			i=$((i + 1))
		done
		((i < ${#printed[@]})) ||
			fail "no printed command matches '$regex' (in order); printed:$(printf '\n  %s' "${printed[@]}")"
		i=$((i + 1))
	done
}

# No trace of agent NAME: no user, no group, no config entry, no entrypoint.
assert_no_agent() {
	local name=$1

	run getent passwd "$name"
	assert_failure
	run getent group "su-as-$name"
	assert_failure
	assert [ ! -e "$(dirname "$(entrypoint_of "$name")")" ]
	if [[ -e $(human_config) ]]; then
		run grep -F "user_name = \"$name\"" "$(human_config)"
		assert_failure
	fi
}

@test "au new --yes prints each system command, in order, then 'Created agent agent'" {
	run --separate-stderr as_human au new --yes
	assert_success

	local uid gid human_uid
	uid=$(id -u agent)
	gid=$(getent group su-as-agent | cut -d: -f3)
	human_uid=$(id -u "$AU_HUMAN")
	assert_commands_in_order \
		'^\$ sudo groupadd su-as-agent$' \
		'^\$ sudo useradd --shell /[^ ]+ --no-user-group --create-home --home-dir /home/agent --gid su-as-agent agent$' \
		"^\\\$ sudo usermod --append --groups su-as-agent $AU_HUMAN\$" \
		'^\$ sudo chgrp su-as-agent /home/agent$' \
		'^\$ sudo chmod 2770 /home/agent$' \
		'^\$ sudo setfacl --modify default:group:su-as-agent:rwx /home/agent$' \
		'^\$ sudo install .* /home/agent/README\.md$' \
		"^\\\$ (cc|musl-gcc) .*-DTARGET_UID=$uid .*-DTARGET_GID=$gid .*-DCALLER_UID=$human_uid .*-o [^ ]+\$" \
		"^\\\$ sudo install -o root -g su-as-agent -m 4750 [^ ]+ $(entrypoint_of agent)\$"
	assert_equal "${lines[-1]}" "Created agent agent"
}

@test "au new makes the user, its group (which the human joins) and a shared home" {
	run --separate-stderr as_human au new --yes
	assert_success

	run getent passwd agent
	assert_success
	assert_output --regexp "^agent:x:[0-9]+:$(getent group su-as-agent | cut -d: -f3):.*:/home/agent:/"
	run getent group su-as-agent
	assert_output --regexp "^su-as-agent:.*:[0-9]+:(.*,)?$AU_HUMAN(,.*)?\$"
	run stat -c '%a %U %G' /home/agent
	assert_output "2770 agent su-as-agent"
	run getfacl --omit-header /home/agent
	assert_line "default:group:su-as-agent:rwx"
}

@test "au new installs the entrypoint root-owned, setuid, and records its SHA-256" {
	run --separate-stderr as_human au new --yes
	assert_success

	local ep sha
	ep=$(entrypoint_of agent)
	run stat -c '%a %U %G %F' "$ep"
	assert_output "4750 root su-as-agent regular file"
	run stat -c '%a %U %G' "$(dirname "$ep")"
	assert_output "755 root root"

	assert_equal "$(config_value bootstrapped)" "true"
	assert_equal "$(config_value entrypoint)" "\"$ep\""
	sha=$(config_value entrypoint_sha256)
	assert_regex "$sha" '^"[0-9a-f]{64}"$'
	assert_equal "$sha" "\"$(sha256sum "$ep" | cut -d' ' -f1)\""
}

@test "the agent's README says how to remove it with au delete" {
	run --separate-stderr as_human au new --yes
	assert_success

	run stat -c '%U' /home/agent/README.md
	assert_output agent
	run grep -F 'au delete' /home/agent/README.md
	assert_success
	# The reference tool's README named an option that does not exist.
	refute_output --partial -- '--user'
}

@test "au new twice says the agent exists, succeeds (nothing to do), and leaves it as it was" {
	as_human au new --yes >/dev/null 2>&1
	local config_before ep_before
	config_before=$(sha256sum "$(human_config)")
	ep_before=$(sha256sum "$(entrypoint_of agent)")

	run --separate-stderr as_human au new --yes
	assert_success
	assert_output "Agent agent already exists: nothing to do"
	refute_output --partial '$ sudo'
	assert_equal "$(sha256sum "$(human_config)")" "$config_before"
	assert_equal "$(sha256sum "$(entrypoint_of agent)")" "$ep_before"
	run getent passwd agent
	assert_success
}

@test "au new with a bad name is a usage error and makes nothing" {
	run --separate-stderr as_human au new --yes -a 'Bad!'
	assert_failure 2
	assert_output ""
	assert_regex "$stderr" "invalid agent name 'Bad!'"
	assert_regex "$stderr" "Try 'au new --help'\.\$"
	run getent group 'su-as-Bad!'
	assert_failure
	assert [ ! -e "$(human_config)" ]
}

@test "au new without a terminal and without --yes refuses and changes nothing" {
	run --separate-stderr as_human au new
	assert_failure 1
	assert_regex "$stderr" "no terminal to confirm on"
	assert_regex "$stderr" "--yes"
	refute_output --partial '$ sudo'
	assert_no_agent agent
	assert [ ! -e /home/agent ]
}

@test "au new refuses a name whose user already exists, and touches that user not" {
	useradd --create-home bob
	local passwd_before
	passwd_before=$(getent passwd bob)

	run --separate-stderr as_human au new --yes -a bob
	assert_failure 1
	assert_regex "$stderr" "^au: a user named 'bob' already exists"
	refute_output --partial '$ sudo'
	assert_equal "$(getent passwd bob)" "$passwd_before"
	run getent group su-as-bob
	assert_failure
	run id -nG "$AU_HUMAN"
	refute_output --partial su-as-bob
}

@test "au new refuses a name whose group su-as-NAME already exists" {
	groupadd su-as-bob

	run --separate-stderr as_human au new --yes -a bob
	assert_failure 1
	assert_regex "$stderr" "^au: a group named 'su-as-bob' already exists"
	refute_output --partial '$ sudo'
	run getent passwd bob
	assert_failure
	run id -nG "$AU_HUMAN"
	refute_output --partial su-as-bob
}

@test "au new refuses a name whose home folder is already there" {
	mkdir /home/bob
	echo "someone's work" >/home/bob/notes

	run --separate-stderr as_human au new --yes -a bob
	assert_failure 1
	assert_regex "$stderr" "'/home/bob' already exists"
	assert_no_agent bob
	assert_equal "$(cat /home/bob/notes)" "someone's work"
}

@test "au new -a bob makes a second agent beside the first" {
	as_human au new --yes >/dev/null 2>&1

	run --separate-stderr as_human au new --yes -a bob
	assert_success
	assert_equal "${lines[-1]}" "Created agent bob"
	run stat -c '%a %U %G' "$(entrypoint_of bob)"
	assert_output "4750 root su-as-bob"

	run --separate-stderr as_human au list
	assert_output "agent (default)
bob"
	run --separate-stderr as_human au run -a bob id -un
	assert_success
	assert_output bob
	run --separate-stderr as_human au run id -un
	assert_output agent
}
