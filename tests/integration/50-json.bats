#!/usr/bin/env bats
# --json, as a script or a configuration manager reads it: au list, au info, au mount
# list, au env list and au limit list each print one JSON object, with the keys the man
# page documents, and the output stays valid JSON (UTF-8, one document) whatever a name
# or path holds: quotes, backslashes, control characters, bytes that are not UTF-8.

load helpers

setup() {
	require_world
	fresh_config
}

# json_eval EXPR: $output (the last run's standard output) parsed as one strict JSON
# document, UTF-8 included, and EXPR evaluated over it (as d) in Python, printed as JSON.
# A parse error fails the test, with the output shown.
json_eval() {
	python3 -c '
import json, sys
raw = sys.stdin.buffer.read()
try:
    d = json.loads(raw.decode("utf-8", "strict"))
except ValueError as e:
    sys.exit("not valid JSON (%s): %r" % (e, raw))
print(json.dumps(eval(sys.argv[1]), ensure_ascii=True, sort_keys=True))' "$1" <<<"$output"
}

# assert_json EXPR EXPECTED: EXPR over the last output, as JSON, is EXPECTED.
assert_json() {
	local got
	got=$(json_eval "$1") || fail "$got"
	assert_equal "$got" "$2"
}

# A config with one agent, agent, not made on the system; its body comes from the arguments.
agent_config() {
	{
		echo "disable_home_access_check = true"
		echo
		echo "[[agents]]"
		echo "user_name = \"agent\""
		echo "su_as_agent_group = \"su-as-agent\""
		echo "entrypoint = \"/nonexistent/su_as_agent\""
		echo "entrypoint_sha256 = \"<unknown>\""
		echo "bootstrapped = false"
		printf '%s\n' "$@"
	} | write_config
}

@test "au list --json: every agent, the default marked, one line of JSON" {
	run --separate-stderr as_human au list --json
	assert_success
	assert_output '{"agents":[]}'

	run --separate-stderr as_human au new --yes
	assert_success
	run --separate-stderr as_human au new --yes -a bob
	assert_success

	run --separate-stderr as_human au list --json
	assert_success
	assert_equal "${#lines[@]}" 1
	assert_json '[a["name"] for a in d["agents"]]' '["agent", "bob"]'
	assert_json '[a["default"] for a in d["agents"]]' '[true, false]'
	assert_json 'd["agents"][1]' \
		"{\"bootstrapped\": true, \"default\": false, \"entrypoint\": \"$AU_PREFIX/libexec/agent-as-unix-user/bob/su_as_agent\", \"group\": \"su-as-bob\", \"name\": \"bob\"}"
}

@test "au info --json: each health item with its verdict, all ok after au new, exit 0" {
	run --separate-stderr as_human au new --yes
	assert_success

	run --separate-stderr as_human au info --json
	assert_success
	assert_json 'd["agent"], d["default"], d["healthy"], d["broken"]' '["agent", true, true, 0]'
	assert_json 'd["user"]' "{\"exists\": true, \"name\": \"agent\", \"uid\": $(id -u agent)}"
	assert_json 'd["group"]' "{\"exists\": true, \"gid\": $(getent group su-as-agent | cut -d: -f3), \"name\": \"su-as-agent\"}"
	assert_json 'd["home"]' '"/home/agent"'
	assert_json 'd["entrypoint"]["path"]' "\"$AU_PREFIX/libexec/agent-as-unix-user/agent/su_as_agent\""
	assert_json 'd["entrypoint"]["sha256"] == d["entrypoint"]["sha256"].lower() and len(d["entrypoint"]["sha256"])' 64
	# The ids the man page documents, each once (more may come).
	assert_json 'sorted(set(["bootstrapped", "user", "group", "human_in_group", "session_group", "home", "entrypoint", "entrypoint_sha256", "entrypoint_source", "acl_support", "acl_tools"]) - set(h["check"] for h in d["health"]))' '[]'
	assert_json 'len(d["health"]) == len(set(h["check"] for h in d["health"]))' true
	assert_json 'sorted(set(h["verdict"] for h in d["health"]))' '["ok"]'
	assert_json 'all(h["message"] for h in d["health"])' true
	# The text says the same: one line per item.
	local items
	items=$(json_eval 'len(d["health"])')
	run --separate-stderr as_human au info
	assert_equal "$(grep -c '^  ok  ' <<<"$output")" "$items"
}

@test "au info --json names the broken item, still one valid object, and exits 1" {
	run --separate-stderr as_human au new --yes
	assert_success
	chmod 4755 "$AU_PREFIX/libexec/agent-as-unix-user/agent/su_as_agent"

	run --separate-stderr as_human au info --json
	assert_failure 1
	assert_json '[h["check"] for h in d["health"] if h["verdict"] == "broken"]' '["entrypoint", "entrypoint_sha256"]'
	assert_json '[h["message"] for h in d["health"] if h["check"] == "entrypoint"][0].find("has mode 4755, expected 4750") >= 0' true
	assert_json 'd["healthy"], d["broken"]' '[false, 2]'
}

@test "au info --json shows the shares and the ACL entries that give access to them" {
	run --separate-stderr as_human au new --yes
	assert_success
	as_human mkdir project
	run --separate-stderr as_human au mount add --rw project
	assert_success
	local gid
	gid=$(getent group su-as-agent | cut -d: -f3)

	run --separate-stderr as_human au info --json
	assert_success
	assert_json 'd["mounts"]' "[{\"read_only\": false, \"source\": \"$(human_home)/project\", \"target\": \"/home/agent/project\"}]"
	assert_json "[e for e in d[\"acl_entries\"] if e[\"path\"] == \"$(human_home)/project\"]" \
		"[{\"default\": false, \"id\": $gid, \"name\": \"su-as-agent\", \"path\": \"$(human_home)/project\", \"permissions\": \"rwx\", \"type\": \"group\"}, {\"default\": true, \"id\": $gid, \"name\": \"su-as-agent\", \"path\": \"$(human_home)/project\", \"permissions\": \"rwx\", \"type\": \"group\"}]"
}

@test "au mount list --json: the shares in order, and the protected paths" {
	run --separate-stderr as_human au new --yes
	assert_success
	run --separate-stderr as_human au mount list --json
	assert_success
	assert_json 'd["agent"], d["mounts"]' '["agent", []]'

	as_human mkdir docs src
	as_human au mount add docs >/dev/null
	as_human au mount add --rw src /home/agent/work >/dev/null
	run --separate-stderr as_human au mount list --json
	assert_success
	assert_equal "${#lines[@]}" 1
	assert_json 'd["mounts"]' "[{\"read_only\": true, \"source\": \"$(human_home)/docs\", \"target\": \"/home/agent/docs\"}, {\"read_only\": false, \"source\": \"$(human_home)/src\", \"target\": \"/home/agent/work\"}]"
	assert_json 'd["protected_paths"]' '[".git/hooks", ".git/config", ".envrc", ".vscode", ".idea"]'

	run --separate-stderr as_human au mount add --json docs
	assert_failure 2
}

@test "au env list --json hides values unless --show-values, and marks pass-through" {
	agent_config 'env = ["HTTPS_PROXY=http://proxy:3128", "ANTHROPIC_API_KEY", "EMPTY="]'

	run --separate-stderr as_human au env list --json
	assert_success
	refute_output --partial proxy:3128
	assert_json 'd' '{"agent": "agent", "env": [{"name": "HTTPS_PROXY", "passthrough": false, "value": null}, {"name": "ANTHROPIC_API_KEY", "passthrough": true, "value": null}, {"name": "EMPTY", "passthrough": false, "value": null}], "values_shown": false}'

	run --separate-stderr as_human au env list --json --show-values
	assert_success
	assert_json 'd["values_shown"], [(e["name"], e["value"]) for e in d["env"]]' \
		'[true, [["HTTPS_PROXY", "http://proxy:3128"], ["ANTHROPIC_API_KEY", null], ["EMPTY", ""]]]'

	run --separate-stderr as_human au env set --json X=1
	assert_failure 2
}

@test "au limit list --json: each limit as set, with its amount, null for max" {
	agent_config

	run --separate-stderr as_human au limit list --json
	assert_success
	assert_output '{"agent":"agent","limits":[]}'

	agent_config 'limits = ["memory=16G", "cpu=150%", "tasks=max"]'
	run --separate-stderr as_human au limit list --json
	assert_success
	assert_equal "${#lines[@]}" 1
	assert_json 'd' '{"agent": "agent", "limits": [{"amount": 17179869184, "key": "memory", "value": "16G"}, {"amount": 150, "key": "cpu", "value": "150%"}, {"amount": null, "key": "tasks", "value": "max"}]}'

	run --separate-stderr as_human au limit set --json memory=1G
	assert_failure 2
	assert_equal "${stderr_lines[0]}" "au: limit set: unknown option '--json'"
}

@test "--json stays valid with quotes and backslashes in names, paths and values" {
	# In TOML: a"b\c
	agent_config 'env = ["Q=say \"hi\" \\ bye"]' \
		'[[agents.mounts]]' \
		'source = "/home/alice/my \"quoted\" \\ folder"' \
		'target = "/home/agent/a\\b"' \
		'read_only = true' \
		'' \
		'[[agents]]' \
		'user_name = "we\"ird\\name"' \
		'su_as_agent_group = "su-as-\"g\\"' \
		'entrypoint = "/x/\"e\\"' \
		'entrypoint_sha256 = "<unknown>"' \
		'bootstrapped = false'

	run --separate-stderr as_human au list --json
	assert_success
	assert_json '[a["name"] for a in d["agents"]]' '["agent", "we\"ird\\name"]'
	assert_json 'd["agents"][1]["group"], d["agents"][1]["entrypoint"]' '["su-as-\"g\\", "/x/\"e\\"]'

	run --separate-stderr as_human au mount list --json
	assert_success
	assert_json 'd["mounts"][0]["source"], d["mounts"][0]["target"]' '["/home/alice/my \"quoted\" \\ folder", "/home/agent/a\\b"]'

	run --separate-stderr as_human au env list --json --show-values
	assert_success
	assert_json 'd["env"][0]["value"]' '"say \"hi\" \\ bye"'

	run --separate-stderr as_human au info --json -a 'we"ird\name'
	assert_failure 1
	assert_json 'd["agent"], d["user"]["exists"], d["group"]["name"]' '["we\"ird\\name", false, "su-as-\"g\\"]'
}

@test "--json stays valid with control characters and escape sequences in names, paths and values" {
	# Every C0 control, ESC sequences and DEL, as TOML escapes.
	local ctl='\u0001\u0007\b\t\n\u000b\f\r\u001b[31m\u001b]0;title\u0007\u007f'
	# How Python writes it back (json.dumps with ensure_ascii).
	local want='\u0001\u0007\b\t\n\u000b\f\r\u001b[31m\u001b]0;title\u0007\u007f'
	agent_config "env = [\"C=v$ctl\"]" \
		'[[agents.mounts]]' \
		"source = \"/home/alice/s$ctl\"" \
		"target = \"/home/agent/t$ctl\"" \
		'read_only = false' \
		'' \
		'[[agents]]' \
		"user_name = \"n$ctl\"" \
		'su_as_agent_group = "g"' \
		'entrypoint = "/e"' \
		'entrypoint_sha256 = "<unknown>"' \
		'bootstrapped = false'

	run --separate-stderr as_human au list --json
	assert_success
	# No raw control byte reaches the output: each is a \u escape.
	refute_output --regexp $'[\x01-\x1f\x7f]'
	assert_json 'd["agents"][1]["name"]' "\"n$want\""

	run --separate-stderr as_human au mount list --json
	assert_success
	refute_output --regexp $'[\x01-\x1f\x7f]'
	assert_json 'd["mounts"][0]["source"], d["mounts"][0]["target"]' "[\"/home/alice/s$want\", \"/home/agent/t$want\"]"

	run --separate-stderr as_human au env list --json --show-values
	assert_success
	refute_output --regexp $'[\x01-\x1f\x7f]'
	assert_json 'd["env"][0]["value"]' "\"v$want\""

	run --separate-stderr as_human au info --json -a $'n\x01\x07\b\t\n\v\f\r\e[31m\e]0;title\a\x7f'
	assert_failure 1
	refute_output --regexp $'[\x01-\x1f\x7f]'
	assert_json 'd["agent"]' "\"n$want\""
}

# The config reader refuses bytes that are not UTF-8, so they reach --json from the system:
# here a group name in /etc/group, met in an ACL entry on the human's home.
@test "--json stays valid UTF-8 with bytes that are not UTF-8: each becomes U+FFFD" {
	agent_config
	printf 'x\xff\xc3"q\\\xe2\x82:x:4242:\n' >>/etc/group
	setfacl -m g:4242:r-x "$(human_home)"

	run --separate-stderr as_human au info --json
	# Taken out before any assertion, so that a failure leaves no such group behind.
	sed -i '/^x.*:x:4242:$/d' /etc/group
	assert_failure 1
	assert_json '[e["name"] for e in d["acl_entries"] if e["id"] == 4242]' '["x\ufffd\ufffd\"q\\\ufffd"]'
	assert_json '[[e["type"], e["permissions"], e["default"]] for e in d["acl_entries"] if e["id"] == 4242]' '[["group", "r-x", false]]'
}
