#!/usr/bin/env bats
# Found by attacking au as the agent would (red team). Each test first shows the attack
# working where au does not look, then failing against au.

load ../integration/helpers

setup() {
	require_world
	fresh_config
	home=$(human_home)
	as_human au new --yes >/dev/null
	as_human sh -c 'mkdir -p project && cd project && git init -q . &&
		git -c user.name=A -c user.email=a@x commit -q --allow-empty -m init'
	as_human au mount add --rw project >/dev/null
	rm -f /tmp/pwned-*
}

teardown() {
	pkill -KILL -u agent 2>/dev/null || true
	rm -f /tmp/pwned-*
	world_teardown
}

# The agent's half of the trap, in the project: a commit of its own, and an interactive
# rebase of it stopped at "break", with an "exec" waiting in the todo list. Git keeps
# that state in .git/rebase-merge; the human's next "git rebase --continue" runs the
# exec line as the human.
rebase_trap() {
	printf '%s' "cd $2 && git -c user.name=B -c user.email=b@x commit -q --allow-empty -m agent &&
		GIT_SEQUENCE_EDITOR='printf \"break\\nexec id -un >/tmp/pwned-$1\\n\" >' \
		git -c user.name=B -c user.email=b@x rebase -q -i HEAD~1"
}

human_rebase_continue() {
	as_human sh -c "cd '$1' && git rebase --continue" >/dev/null 2>&1 || true
}

@test "a rebase left stopped with an exec in its todo list is moved aside" {
	# Without au's check: the same state, in a copy, and the human's next
	# rebase --continue runs the exec line as the human.
	as_human cp -a project copy
	as_human sh -c "$(rebase_trap plain copy)"
	assert [ -d "$home/copy/.git/rebase-merge" ]
	human_rebase_continue copy
	assert [ "$(cat /tmp/pwned-plain)" = "$AU_HUMAN" ]

	run --separate-stderr as_human au run sh -c "$(rebase_trap au project)"
	assert_success
	assert_regex "$stderr" "rebase-merge.*moved it aside"
	assert [ ! -e "$home/project/.git/rebase-merge" ]
	human_rebase_continue project
	assert [ ! -e /tmp/pwned-au ]
}
