#!/usr/bin/env bats
# A file with more than one link in a read-write share may be the same inode as a file
# outside it: uv's and pnpm's caches hard-link package files into projects. Write on it
# in the share is write on the cache, and the next project that uses the cache runs what
# the agent wrote, as the human. Each test first shows the trap with plain setfacl.

load shares

setup() {
	shares_setup
	# uv's cache, and a project's virtual environment linked from it.
	as_human sh -c 'mkdir -p .cache/uv/pkg project/.venv/lib &&
		echo "print(1)" >.cache/uv/pkg/mod.py && printf "#!/bin/sh\n" >.cache/uv/pkg/tool &&
		chmod 755 .cache/uv/pkg/tool &&
		ln .cache/uv/pkg/mod.py project/.venv/lib/mod.py && ln .cache/uv/pkg/tool project/.venv/lib/tool'
}

teardown() {
	shares_teardown
}

@test "a file hard-linked from a cache outside the share is not shared for writing, and au says which and how to break the links" {
	# Without the defence: one setfacl -R pass over the project reaches the cache.
	as_human cp -a project demo
	as_human ln .cache/uv/pkg/mod.py demo/linked.py
	as_human setfacl -R -m g:su-as-agent:rwx "$home/demo"
	run group_entries "$home/.cache/uv/pkg/mod.py"
	assert_output "group:su-as-agent:rwx"
	as_human setfacl -b "$home/.cache/uv/pkg/mod.py"
	as_human rm -rf demo

	run --separate-stderr as_human au mount add --rw project
	assert_success
	local printed=$output
	assert_output --partial "2 files with more than one link not shared for writing"
	assert_line "    $home/project/.venv/lib/mod.py"
	assert_line "    $home/project/.venv/lib/tool"
	assert_output --partial "find $home/project -type f -links +1 -exec sh -c"
	# Nothing outside the share changes: the agent reads them as everyone may, no more.
	run group_entries "$home/.cache/uv/pkg/mod.py"
	assert_output ""
	run group_entries "$home/.cache/uv/pkg/tool"
	assert_output ""

	run --separate-stderr as_human au run sh -c 'cat project/.venv/lib/mod.py; echo evil >>project/.venv/lib/mod.py'
	assert_failure
	assert_output "print(1)"
	assert_regex "$stderr" 'Permission denied'
	assert_equal "$(cat "$home/.cache/uv/pkg/mod.py")" "print(1)"
	# The rest of the share is the agent's to write.
	run --separate-stderr as_human au run sh -c 'echo ok >>project/file'
	assert_success

	# The commands au printed give each its own copy, and share the folder again.
	local breaker share_again
	breaker=$(grep -F -- "-links +1 -exec" <<<"$printed" | sed 's/^ *//')
	share_again=$(grep -F -- "au mount remove" <<<"$printed" | sed 's/^ *//; s/ && .*//')
	[[ -n $breaker && -n $share_again ]] || fail "no command printed in: $printed"
	as_human sh -c "$breaker"
	as_human sh -c "$share_again"
	run --separate-stderr as_human au mount add --rw project
	assert_success
	refute_output --partial "more than one link"
	run --separate-stderr as_human au run sh -c 'echo agent >>project/.venv/lib/mod.py'
	assert_success
	assert_equal "$(cat "$home/.cache/uv/pkg/mod.py")" "print(1)"
	run group_entries "$home/.cache/uv/pkg/mod.py"
	assert_output ""
}

@test "a file linked elsewhere after it was shared loses the agent's entry at the next grant" {
	as_human au mount add --rw project
	as_human ln project/file backup-of-file
	run group_entries "$home/backup-of-file"
	assert_output "group:su-as-agent:rwx"

	as_human au mount remove project
	as_human ln -f project/file backup-of-file
	run --separate-stderr as_human au mount add --rw project
	assert_success
	assert_line "    $home/project/file"
	run group_entries "$home/backup-of-file"
	assert_output ""
}

# The agent, left running, swaps the name of a file it may write with a hard link into
# the cache, in a folder it can write (here by its mode, so that taking the share back does
# not stop it), while the human shares the project again and again.
@test "a process the agent left running cannot swap a hard link in for a file during the grant" {
	as_human au mount add --rw project
	# Linked after the grant: the cache's own ACL, nothing for the agent's group.
	as_human ln .cache/uv/pkg/mod.py project/sub/linked
	as_human sh -c 'echo plain >project/sub/plain && chmod 777 project/sub'
	run group_entries "$home/.cache/uv/pkg/mod.py"
	assert_output ""
	build_exchanger

	# Without the defence: check the name's links, then set the ACL on the name.
	agent_keeps_running "$tools_dir/xchg" /home/agent/project/sub plain linked
	local i round
	for ((i = 0; i < 2000; i++)); do
		if [[ $(stat -c %h "$home/project/sub/plain" 2>/dev/null) == 1 ]]; then
			setfacl -m g:su-as-agent:rwx "$home/project/sub/plain" 2>/dev/null || true
		fi
		[[ -n $(group_entries "$home/.cache/uv/pkg/mod.py") ]] && break
	done
	run group_entries "$home/.cache/uv/pkg/mod.py"
	assert_output "group:su-as-agent:rwx"
	setfacl -b "$home/.cache/uv/pkg/mod.py"

	# With au: the grant walks again and again while the agent swaps ("round", not "i":
	# bats' run changes a variable named i).
	for ((round = 0; round < 5; round++)); do
		run --separate-stderr as_human au mount remove project
		run --separate-stderr as_human au mount add --rw project
		assert_success
		run group_entries "$home/.cache/uv/pkg/mod.py"
		refute_output --partial "rw"
	done
	pgrep -u agent -f xchg >/dev/null || fail "the agent's swapper stopped: no race"
}
