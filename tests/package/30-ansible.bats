#!/usr/bin/env bats
# The Ansible role of contrib/ansible, as a team that runs many machines uses it, with
# Debian's ansible, here on the throwaway world itself (ansible-playbook -c local): it
# installs the .deb and makes the agents with their shares, variables, network and
# limits, read back through --json; a second run
# changes nothing; a change of the wishes changes only that; 'state: absent' removes
# them, and a second run changes nothing again.

load package

setup() {
	require_package_world
	fresh_config
	deb=$(the_deb) || fail "no package: tools/build-deb failed"
	purge_au
	home=$(human_home)
	as_human mkdir -p project docs
	# Ansible's own files go to the world's /tmp (root's ~/.ansible), not to root's home on
	# the host; as the human, to the human's home, which the world restores.
	export HOME=$BATS_TEST_TMPDIR ANSIBLE_LOCAL_TEMP=$BATS_TEST_TMPDIR/ansible-local \
		ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_ROLES_PATH=$AU_REPO/contrib/ansible/roles
}

teardown() {
	world_teardown
	purge_au
}

# playbook AGENTS_YAML: the play, with the agents given (YAML, indented for au_agents).
playbook() {
	cat >"$BATS_TEST_TMPDIR/play.yml" <<-EOF
		- hosts: localhost
		  gather_facts: false
		  roles:
		    - role: au
		      vars:
		        au_deb: $deb
		        au_human: $AU_HUMAN
		        au_agents:
		$1
	EOF
}

# play: runs the play; $changed is what its recap says changed.
play() {
	run ansible-playbook -c local -i localhost, "$BATS_TEST_TMPDIR/play.yml"
	echo "$output"
	assert_success
	[[ $output =~ localhost\ +:\ ok=[0-9]+\ +changed=([0-9]+)\ +unreachable=0\ +failed=0 ]] ||
		fail "no recap line"
	changed=${BASH_REMATCH[1]}
}

@test "the role installs au and makes agents with shares, variables, network and limits; a second run changes nothing" {
	playbook "$(cat <<-EOF
		          - name: agent
		            mounts:
		              - source: $home/project
		                rw: true
		              - source: $home/docs
		                target: /home/agent/reference
		            env:
		              HTTPS_PROXY: http://proxy:3128
		              ANTHROPIC_API_KEY: null
		            net_mode: none
		            net_allow:
		              - "*.Example.com"
		              - example.com:443
		            limits:
		              memory: 1G
		              tasks: 512
		          - name: bob
	EOF
	)"

	play
	assert [ "$changed" -gt 0 ]
	assert_equal "$(dpkg-query -W -f='${Version}' au)" "$(dpkg-deb -f "$deb" Version)"
	run --separate-stderr as_human au list --json
	assert_output '{"agents":[{"name":"agent","default":true,"group":"su-as-agent","entrypoint":"/usr/libexec/agent-as-unix-user/agent/su_as_agent","bootstrapped":true},{"name":"bob","default":false,"group":"su-as-bob","entrypoint":"/usr/libexec/agent-as-unix-user/bob/su_as_agent","bootstrapped":true}]}'
	run --separate-stderr as_human au mount list --json
	assert_output --partial "\"mounts\":[{\"source\":\"$home/project\",\"target\":\"/home/agent/project\",\"read_only\":false},{\"source\":\"$home/docs\",\"target\":\"/home/agent/reference\",\"read_only\":true}]"
	run --separate-stderr as_human au env list --json --show-values
	assert_output '{"agent":"agent","values_shown":true,"env":[{"name":"HTTPS_PROXY","passthrough":false,"value":"http://proxy:3128"},{"name":"ANTHROPIC_API_KEY","passthrough":true,"value":null}]}'
	# Patterns are stored in lower case, and so the role compares them.
	run --separate-stderr as_human au net list --json
	assert_output '{"agent":"agent","mode":"none","allow":["*.example.com","example.com:443"]}'
	run --separate-stderr as_human au limit list --json
	assert_output '{"agent":"agent","limits":[{"key":"memory","value":"1G","amount":1073741824},{"key":"tasks","value":"512","amount":512}]}'
	run --separate-stderr as_human au net list --json -a bob
	assert_output '{"agent":"bob","mode":"all","allow":[]}'
	run --separate-stderr as_human au limit list --json -a bob
	assert_output '{"agent":"bob","limits":[]}'
	run --separate-stderr as_human au info -a bob
	assert_success
	# The agent works: it writes the read-write share.
	run as_human au run --no-login -- sh -c 'echo from the agent >project/note'
	assert_success
	assert_equal "$(cat "$home/project/note")" "from the agent"

	play
	assert_equal "$changed" 0
}

@test "a change of the wishes changes only that, once" {
	playbook "$(cat <<-EOF
		          - name: agent
		            mounts:
		              - source: $home/project
		                rw: true
		              - source: $home/docs
		            env:
		              HTTPS_PROXY: http://proxy:3128
		              KEEP: same
		            net_mode: allow
		            net_allow: [example.com, example.org]
		            limits: { memory: 1G, cpu: 50% }
	EOF
	)"
	play

	# project becomes read-only, docs is no longer shared, a value changes, one goes.
	playbook "$(cat <<-EOF
		          - name: agent
		            mounts:
		              - source: $home/project
		            env:
		              HTTPS_PROXY: http://other:8080
		            net_mode: all
		            net_allow: [example.org, example.net]
		            limits: { memory: 2G }
	EOF
	)"
	play
	# Nine tasks changed something: mount remove (project, for its mode, and docs), mount
	# add (project), env unset (KEEP), env set (HTTPS_PROXY, whose value stays out of the
	# log), net mode, net disallow (example.com), net allow (example.net), limit unset
	# (cpu) and limit set (memory).
	assert_equal "$changed" 9
	assert_equal "$(grep -c "^changed: \[localhost\] => (item=$home/project)\$" <<<"$output")" 2
	assert_equal "$(grep -c "^changed: \[localhost\] => (item=$home/docs)\$" <<<"$output")" 1
	assert_line "changed: [localhost] => (item=KEEP)"
	refute_output --partial http://other:8080
	run --separate-stderr as_human au mount list --json
	assert_output --partial "\"mounts\":[{\"source\":\"$home/project\",\"target\":\"/home/agent/project\",\"read_only\":true}]"
	run --separate-stderr as_human au env list --json --show-values
	assert_output '{"agent":"agent","values_shown":true,"env":[{"name":"HTTPS_PROXY","passthrough":false,"value":"http://other:8080"}]}'
	run --separate-stderr as_human au net list --json
	assert_output '{"agent":"agent","mode":"all","allow":["example.org","example.net"]}'
	run --separate-stderr as_human au limit list --json
	assert_output '{"agent":"agent","limits":[{"key":"memory","value":"2G","amount":2147483648}]}'
	# What the read-write share gave is taken back.
	run getfacl --omit-header --skip-base "$home/project"
	refute_output --partial su-as-agent

	play
	assert_equal "$changed" 0
}

@test "state: absent deletes the agents; a second run changes nothing" {
	playbook "$(cat <<-EOF
		          - name: agent
		            mounts:
		              - source: $home/project
		                rw: true
		          - name: bob
	EOF
	)"
	play

	playbook "$(cat <<-EOF
		          - name: agent
		            state: absent
		            delete_home: true
		          - name: bob
		            state: absent
	EOF
	)"
	play
	assert_equal "$changed" 2
	run --separate-stderr as_human au list --json
	assert_output '{"agents":[]}'
	run getent passwd agent bob
	assert_failure
	assert [ ! -e /home/agent ]
	run getfacl --omit-header --skip-base "$home/project"
	refute_output --partial su-as-agent

	play
	assert_equal "$changed" 0
}
