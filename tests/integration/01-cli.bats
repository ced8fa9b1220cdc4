#!/usr/bin/env bats
# au's command line, as the human meets it: help, usage errors, au list and its
# config file, start-up warnings and colours.

load helpers

setup() {
	require_world
	fresh_config
}

commands=(new run info list delete mount repair)

# A config in the reference tool's format, with the agents named in the arguments.
reference_config() {
	local agent

	echo "disable_home_access_check = true"
	for agent in "$@"; do
		cat <<-EOF

			[[agents]]
			user_name = "$agent"
			su_as_agent_group = "su-as-$agent"
			entrypoint = "/home/$agent/.config/agent-as-unix-user/su_as_agent"
			entrypoint_sha256 = "<unknown>"
			bootstrapped = false
		EOF
	done
}

# A usage error: nothing on stdout, one line of message, then the hint naming the help
# to read (au's, or the command's given as $1); status 2.
assert_usage_error() {
	assert_failure 2
	assert_output ""
	assert_equal "${#stderr_lines[@]}" 2
	assert_regex "${stderr_lines[0]}" '^au: .+'
	assert_equal "${stderr_lines[1]}" "Try 'au ${1:+$1 }--help'."
}

@test "au --version prints the version" {
	run --separate-stderr as_human au --version
	assert_success
	assert_output --regexp '^au [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "au --help and au -h list every command" {
	local opt cmd

	for opt in --help -h; do
		run --separate-stderr as_human au "$opt"
		echo "au $opt: status $status, stderr: $stderr"
		assert_success
		assert_line --index 0 --regexp '^Usage: au( |$)'
		for cmd in "${commands[@]}"; do
			assert_line --regexp "^ +$cmd( |\$)"
		done
	done
}

@test "every command has -h and --help" {
	local opt cmd

	for cmd in "${commands[@]}"; do
		for opt in -h --help; do
			run --separate-stderr as_human au "$cmd" "$opt"
			# Shown by bats if an assertion fails: which command it was.
			echo "au $cmd $opt: status $status, stderr: $stderr"
			assert_success
			assert_line --index 0 --regexp "^Usage: au $cmd( |\$)"
		done
	done
}

@test "an unknown command is a usage error" {
	run --separate-stderr as_human au bogus
	assert_usage_error
	assert_regex "${stderr_lines[0]}" bogus
}

@test "an unknown option is a usage error" {
	run --separate-stderr as_human au --bogus
	assert_usage_error
	assert_regex "${stderr_lines[0]}" bogus

	run --separate-stderr as_human au list --bogus
	assert_usage_error list
	assert_regex "${stderr_lines[0]}" bogus
}

@test "a missing operand is a usage error" {
	run --separate-stderr as_human au mount add
	assert_usage_error mount
}

@test "a usage error in a command points to that command's --help" {
	local cmd

	run --separate-stderr as_human au run
	assert_usage_error run
	for cmd in "${commands[@]}"; do
		run --separate-stderr as_human au "$cmd" --bogus
		echo "au $cmd --bogus: $stderr"
		assert_usage_error "$cmd"
	done
}

@test "au list without a config says so and creates nothing" {
	rm -rf "$(human_home)/.config"

	run --separate-stderr as_human au list
	assert_success
	assert_output "No agents configured."
	assert [ ! -e "$(human_home)/.config" ]
}

@test "au list without a config file creates no config file" {
	install -d -o "$AU_HUMAN" -g "$AU_HUMAN" -m 0755 "$(human_home)/.config"

	run --separate-stderr as_human au list
	assert_success
	assert_output "No agents configured."
	run compgen -G "$(human_config)*"
	assert_failure
}

@test "au list shows the agents of a reference-format config, the default marked" {
	reference_config agent bob | write_config

	run --separate-stderr as_human au list
	assert_success
	assert_output "agent (default)
bob"
}

# corrupt_config_fails LINE: au list refuses the config written beforehand, pointing at
# PATH:LINE:COL (any line when LINE is empty), and leaves the file as it was.
corrupt_config_fails() {
	local line=${1:-[0-9]+} config sum_before
	config=$(human_config)
	sum_before=$(sha256sum "$config")

	run --separate-stderr as_human au list
	assert_failure 1
	assert_regex "$stderr" "${config//./\\.}:$line:[0-9]+: "
	assert_equal "$(sha256sum "$config")" "$sum_before"
}

@test "a config with an unterminated string is refused with its position" {
	printf '[[agents]]\nuser_name = "x\n' | write_config
	corrupt_config_fails 2
}

@test "a config with a duplicate key is refused with its position" {
	reference_config agent | sed '/^user_name/p' | write_config
	corrupt_config_fails 5
}

@test "a config of random bytes is refused with a position" {
	# A NUL and a PNG signature first, so that the file is never valid TOML by chance.
	{
		printf '\211PNG\r\n\032\n\000\000\000\rIHDR\377\376'
		head -c 256 /dev/urandom
	} | write_config
	corrupt_config_fails
}

@test "a home open to others gets a warning with a hint, and au still works" {
	chmod 0755 "$(human_home)"

	run --separate-stderr as_human au list
	assert_success
	assert_output "No agents configured."
	assert_regex "$stderr" 'chmod 750 ~'
}

@test "disable_home_access_check silences the open-home warning" {
	chmod 0755 "$(human_home)"
	echo "disable_home_access_check = true" | write_config

	run --separate-stderr as_human au list
	assert_success
	assert_output "No agents configured."
	refute_regex "$stderr" 'chmod 750'
}

@test "a private home gets no open-home warning" {
	run --separate-stderr as_human au list
	assert_success
	refute_regex "$stderr" 'chmod 750'
}

@test "NO_COLOR=1 keeps escape sequences out, even on a terminal" {
	# An open home and a config with agents, so that there is a warning and a list
	# that could be coloured. script(1) gives au a terminal on stdout and stderr.
	reference_config agent bob | sed '/disable_home_access_check/d' | write_config
	chmod 0755 "$(human_home)"

	run as_human env NO_COLOR=1 TERM=xterm-256color script -qec 'au list; au --bogus' /dev/null
	assert_output --partial "agent (default)"
	assert_output --partial "Try 'au --help'."
	refute_output --partial $'\e'
}

@test "output to a pipe has no escape sequences" {
	reference_config agent bob | sed '/disable_home_access_check/d' | write_config
	chmod 0755 "$(human_home)"

	run as_human env TERM=xterm-256color sh -c 'au list 2>&1 | cat; au --bogus 2>&1 | cat'
	assert_output --partial "agent (default)"
	assert_output --partial "Try 'au --help'."
	refute_output --partial $'\e'
}
