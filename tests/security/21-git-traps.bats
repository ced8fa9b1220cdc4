#!/usr/bin/env bats
# Traps for the human's next git command, set by the agent in a read-write share. In
# such a share the agent writes in the human's own folders, so "owned by the human"
# proves nothing: git would take a folder with HEAD, objects/ and refs/ for a
# repository, or follow a .git file anywhere, and run the config's core.fsmonitor as
# the human. au moves what appeared during the run aside before the human gets back.
# Each test first shows the trap working where au does not look (as root, in a copy).

load ../integration/helpers

setup() {
	require_world
	fresh_config
	home=$(human_home)
	as_human au new --yes >/dev/null
	as_human sh -c 'mkdir -p project && cd project && git init -q . &&
		git -c user.name=A -c user.email=a@x commit -q --allow-empty -m init &&
		mkdir -p src docs lib && echo hi >src/a.c && echo hi >src/b.c && echo hi >docs/d.txt'
	as_human au mount add --rw project >/dev/null
	rm -f /tmp/pwned-*
}

# The payload: a config whose fsmonitor hook writes who ran it (a bare-looking folder
# needs worktree = . for git status to look at files, and so to run the hook).
payload_config() {
	printf '[core]\n\trepositoryformatversion = 0\n\tbare = false\n'
	[[ ${2:-} == bare ]] && printf '\tworktree = .\n'
	printf '\tfsmonitor = "id -un > /tmp/pwned-%s; false"\n' "$1"
}

# What the human does next: git status in DIR (a prompt that shows git state does it on cd).
human_git_status() {
	as_human sh -c "cd '$1' && git status --short" >/dev/null 2>&1 || true
}

@test "a folder of the human's turned into a bare-looking repository loses its HEAD" {
	# Without au's check: the trap works, in a copy, set up the same way.
	cp -a "$home/project" "$home/copy"
	(cd "$home/copy/src" && mkdir -p objects refs/heads && echo 'ref: refs/heads/main' >HEAD &&
		payload_config copy bare >config && chown -R "$AU_HUMAN" .)
	human_git_status "$home/copy/src"
	assert [ "$(cat /tmp/pwned-copy)" = "$AU_HUMAN" ]

	run --separate-stderr as_human au run sh -c "cd project/src && mkdir -p objects refs/heads &&
		echo 'ref: refs/heads/main' >HEAD && printf '$(payload_config bare bare | sed 's/\\/\\\\/g')' >config"
	assert_success
	assert_regex "$stderr" "appeared at '$home/project/src/HEAD' while the agent ran: moved it aside"
	human_git_status "$home/project/src"
	assert [ ! -e /tmp/pwned-bare ]
}

@test "a .git file made from the human's own file is moved aside" {
	run --separate-stderr as_human au run sh -c "cd project &&
		mkdir -p docs/objects docs/refs/heads && echo 'ref: refs/heads/main' >docs/HEAD &&
		printf '$(payload_config gitfile | sed 's/\\/\\\\/g')' >docs/config &&
		echo 'gitdir: ../docs' >src/a.c && mv src/a.c src/.git"
	assert_success
	assert_regex "$stderr" "'$home/project/src/.git' while the agent ran: moved it aside to '$home/project/.au-quarantine-[^/]*/[0-9]+-.git'"
	assert [ ! -e "$home/project/src/.git" ]
	human_git_status "$home/project/src"
	assert [ ! -e /tmp/pwned-gitfile ]
}

@test "a .git folder made from one of the human's folders is moved aside, whoever owns its files" {
	# The agent renames and rewrites the human's own files and folders into a worktree, HEAD and config: all
	# stay the human's, so an ownership check says nothing.
	run --separate-stderr as_human au run sh -c "cd project && mv src/a.c lib/HEAD && mv src/b.c lib/config &&
		echo 'ref: refs/heads/main' >lib/HEAD &&
		printf '$(payload_config dir | sed 's/\\/\\\\/g')' >lib/config && mkdir -p lib/objects lib/refs/heads &&
		mv docs sub && mv lib sub/.git"
	assert_success
	assert_regex "$stderr" "a git directory appeared at '$home/project/sub/.git' while the agent ran: moved it aside to '$home/project/.au-quarantine-"
	assert [ "$(stat -c %U "$home"/project/.au-quarantine-*/*-.git/config)" = "$AU_HUMAN" ]
	human_git_status "$home/project/sub"
	assert [ ! -e /tmp/pwned-dir ]
}

@test "the admin files of the human's linked worktrees are read-only for the agent" {
	as_human sh -c 'cd project && git worktree add -q ../project-wt'
	run --separate-stderr as_human au run sh -c 'echo ../../../docs >project/.git/worktrees/project-wt/commondir'
	assert_failure
	assert_regex "$stderr" 'Read-only file system'
	assert_equal "$(cat "$home/project/.git/worktrees/project-wt/commondir")" "../.."
}

@test "a new commondir in the human's git directory is moved aside" {
	# .git itself is pinned, but a new file inside it is the agent's to make.
	run --separate-stderr as_human au run sh -c 'echo ../docs >project/.git/commondir'
	assert_success
	assert_regex "$stderr" "commondir.*moved it aside"
	assert [ ! -e "$home/project/.git/commondir" ]
	as_human sh -c 'cd project && git status --short'
}
