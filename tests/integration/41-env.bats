#!/usr/bin/env bats
# au env, as alice meets it: variables stored once for every run of an agent (a proxy,
# a CA bundle, an API key), values kept out of sight, her own value passed through for a
# bare KEY, and 'au run --env' for one run.

load helpers

setup() {
	require_world
	fresh_config
	local out
	out=$(as_human au new --yes 2>&1) || fail "au new failed: $out"
}

# The agent's "env" array, as a TOML reader other than au's sees it, one entry a line.
stored_env() {
	python3 - "$(human_config)" <<-'EOF'
		import sys, tomllib
		with open(sys.argv[1], "rb") as f:
		    config = tomllib.load(f)
		for agent in config["agents"]:
		    if agent["user_name"] == "agent":
		        for entry in agent.get("env", []):
		            print(entry)
	EOF
}

@test "au env set stores a variable, au env list hides its value, --show-values shows it" {
	run --separate-stderr as_human au env list
	assert_success
	assert_output "No environment variables stored for agent agent."

	run --separate-stderr as_human au env set HTTPS_PROXY=http://proxy:3128
	assert_success
	assert_output "Set HTTPS_PROXY for agent agent"

	run --separate-stderr as_human au env list
	assert_success
	assert_output "HTTPS_PROXY=<hidden>"
	refute_output --partial proxy:3128
	run --separate-stderr as_human au env list --show-values
	assert_success
	assert_output "HTTPS_PROXY=http://proxy:3128"

	# On the host's network the stored value is the agent's; where au's proxy serves it
	# (mode all, the default), the proxy variables are au's, and au says so.
	run --separate-stderr as_human au run --net host printenv HTTPS_PROXY
	assert_success
	assert_output "http://proxy:3128"
	run --separate-stderr as_human au run printenv HTTPS_PROXY
	assert_success
	assert_output "http://127.0.0.1:3128"
	assert_regex "$stderr" "HTTPS_PROXY: in network mode all the agent's proxy is au's"
}

@test "au env set again replaces the value, au env unset removes the variable" {
	as_human au env set FOO=1
	as_human au env set FOO=2
	run --separate-stderr as_human au env list --show-values
	assert_output "FOO=2"

	run --separate-stderr as_human au env unset FOO
	assert_success
	assert_output "Unset FOO for agent agent"
	run --separate-stderr as_human au run printenv FOO
	assert_failure 1
	assert_output ""

	run --separate-stderr as_human au env unset FOO
	assert_failure 1
	assert_regex "$stderr" "^au: FOO is not set for agent agent"
}

@test "a stored bare KEY passes alice's value at each run, and stores no value" {
	run --separate-stderr as_human au env set MYKEY
	assert_success
	assert_output "Set MYKEY for agent agent: your value passes through at each run"
	run --separate-stderr as_human au env list --show-values
	assert_output "MYKEY (your value, passed through)"

	run --separate-stderr as_human env MYKEY=v au run printenv MYKEY
	assert_success
	assert_output v
	run --separate-stderr as_human env MYKEY=w au run printenv MYKEY
	assert_output w
	# Where alice has no value, the agent gets none.
	run --separate-stderr as_human au run printenv MYKEY
	assert_failure 1
	assert_output ""

	run stored_env
	assert_output MYKEY
}

@test "a value with '=' in it survives, stored and at run time" {
	run --separate-stderr as_human au env set 'URL=http://x/?a=b'
	assert_success
	run --separate-stderr as_human au run printenv URL
	assert_success
	assert_output 'http://x/?a=b'
	run --separate-stderr as_human au env list --show-values
	assert_output 'URL=http://x/?a=b'
}

@test "au run --env overrides a stored value for one run only" {
	as_human au env set FOO=stored
	as_human au env set MYKEY

	run --separate-stderr as_human au run --env FOO=once printenv FOO
	assert_success
	assert_output once
	run --separate-stderr as_human env MYKEY=alice au run --env MYKEY=given printenv MYKEY
	assert_output given

	run --separate-stderr as_human au run printenv FOO
	assert_output stored
	run --separate-stderr as_human au env list --show-values
	assert_line FOO=stored
}

@test "the stored entries are in env = [...] of the agent, and the config stays mode 0600" {
	as_human au env set A=1
	as_human au env set B
	as_human au env set 'C=x y "z"'

	run stat -c '%a %U' "$(human_config)"
	assert_output "600 $AU_HUMAN"
	run stored_env
	assert_success
	assert_output 'A=1
B
C=x y "z"'
	run --separate-stderr as_human au run printenv C
	assert_output 'x y "z"'

	as_human au env unset A
	run stat -c '%a' "$(human_config)"
	assert_output 600
	run stored_env
	assert_output 'B
C=x y "z"'
}

@test "a bad variable name is a usage error (2), and nothing is stored" {
	local bad

	for bad in 1BAD=x BAD-KEY=x 'BAD KEY' =x '' HOME=/tmp USER=root; do
		run --separate-stderr as_human au env set "$bad"
		echo "au env set '$bad'"
		assert_failure 2
		assert_output ""
		assert_equal "${stderr_lines[-1]}" "Try 'au env --help'."
	done
	run --separate-stderr as_human au env unset FOO=x
	assert_failure 2
	run --separate-stderr as_human au env set
	assert_failure 2

	run stored_env
	assert_output ""
}

@test "au env list escapes what it prints" {
	as_human au env set "$(printf 'X=a\033]0;owned\007b')"
	run --separate-stderr as_human au env list --show-values
	assert_success
	refute_output --partial $'\033'
	assert_output --partial 'X=a\x1b]0;owned\x07b'
}
