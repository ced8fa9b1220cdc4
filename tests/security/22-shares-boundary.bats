#!/usr/bin/env bats
# A read-write share as a boundary (issue 10, classes 1 and 2). The agent writes in the
# human's own folders, so it can shape anything git takes for a repository (a bare one
# at any level, HEAD as a symlink, objects/ and refs/ through symlinks or a commondir,
# .git files) and anything git runs (hooks wherever core.hooksPath points, included
# configs). au protects what its record of the share knows, watches what changes while
# the agent runs, and applies git's own rules there afterwards; when changes were lost
# it looks everywhere. Each test first shows the trap working where au does not look (as
# root, in a copy, or with plain git), then failing against au.

load ../integration/helpers

setup() {
	require_world
	fresh_config
	home=$(human_home)
	as_human au new --yes >/dev/null
	as_human sh -c 'mkdir -p project && cd project && git init -q . &&
		git -c user.name=A -c user.email=a@x commit -q --allow-empty -m init &&
		mkdir -p src docs lib && echo hi >src/a.c && echo hi >src/b.c && echo hi >docs/d.txt'
	rm -f /tmp/pwned-* /tmp/payload-*
	saved_queue=$(cat /proc/sys/fs/fanotify/max_queued_events)
	saved_groups=$(cat /proc/sys/fs/fanotify/max_user_groups)
}

teardown() {
	echo "$saved_queue" >/proc/sys/fs/fanotify/max_queued_events
	echo "$saved_groups" >/proc/sys/fs/fanotify/max_user_groups
	world_teardown
}

share_project() {
	as_human au mount add --rw project >/dev/null
}

# "watch" where the kernel gives birth times (statx) for the watch's link check; "scan"
# where it refuses statx (the old-kernel pass), and au scans the share before the run
# instead of watching it.
watch_or_scan() {
	python3 -c 'import ctypes, os
nr = {"x86_64": 332, "aarch64": 291, "riscv64": 291}[os.uname().machine]  # statx
libc = ctypes.CDLL(None, use_errno=True)
buf = ctypes.create_string_buffer(256)
print("watch" if libc.syscall(nr, -100, b"/", 0, 0x800, buf) == 0 else "scan")'
}

# /tmp/payload-NAME: a git config whose fsmonitor hook writes who ran it to /tmp/pwned-NAME
# (a bare-looking folder needs worktree = . for git status to look at files, and so to
# run the hook). Readable by the agent, which copies it where git will read it.
write_payload() {
	{
		printf '[core]\n\trepositoryformatversion = 0\n\tbare = false\n'
		[[ ${2:-} == bare ]] && printf '\tworktree = .\n'
		printf '\tfsmonitor = "id -un > /tmp/pwned-%s; false"\n' "$1"
	} >"/tmp/payload-$1"
	chmod 0644 "/tmp/payload-$1"
}

# What the human does next: git status in DIR (a prompt that shows git state does it on cd).
human_git_status() {
	as_human sh -c "cd '$1' && git status --short" >/dev/null 2>&1 || true
}

assert_pwned() {
	assert [ "$(cat "/tmp/pwned-$1" 2>/dev/null)" = "$AU_HUMAN" ]
	rm -f "/tmp/pwned-$1"
}

# The same steps as root in a copy of the project, everything owned by the human as in
# the share (the agent renames the human's own folders there).
trap_in_copy() {
	rm -rf "$home/copy"
	cp -a "$home/project" "$home/copy"
	(cd "$home/copy" && sh -c "$1" && chown -R "$AU_HUMAN" .)
}

# --- class 1: repository discovery by git's own rules ------------------------------------

@test "a bare repository made at the top of a share is taken apart" {
	as_human sh -c 'mkdir -p notes && echo hi >notes/todo.txt'
	as_human au mount add --rw notes >/dev/null
	write_payload top bare
	make_bare='mkdir -p objects refs/heads && echo "ref: refs/heads/main" >HEAD && cp /tmp/payload-top config'
	cp -a "$home/notes" "$home/notes-copy"
	(cd "$home/notes-copy" && sh -c "$make_bare" && chown -R "$AU_HUMAN" .)
	human_git_status "$home/notes-copy"
	assert_pwned top

	run --separate-stderr as_human au run sh -c "cd notes && $make_bare"
	assert_success
	assert_regex "$stderr" "appeared at '$home/notes/HEAD' while the agent ran: moved it aside to '$home/notes/.au-quarantine-"
	human_git_status "$home/notes"
	assert [ ! -e /tmp/pwned-top ]
}

@test "a bare repository whose HEAD is a symlink is taken apart" {
	share_project
	write_payload symhead bare
	make_bare='cd docs && mkdir -p objects refs/heads && ln -s refs/heads/main HEAD && cp /tmp/payload-symhead config'
	trap_in_copy "$make_bare"
	human_git_status "$home/copy/docs"
	assert_pwned symhead

	run --separate-stderr as_human au run sh -c "cd project && $make_bare"
	assert_success
	assert_regex "$stderr" "appeared at '$home/project/docs/HEAD' while the agent ran: moved it aside"
	human_git_status "$home/project/docs"
	assert [ ! -e /tmp/pwned-symhead ]
}

@test "a bare repository whose objects and refs are symlinks to the human's own is taken apart" {
	share_project
	write_payload symlinks bare
	make_bare='cd docs && ln -s ../.git/objects objects && ln -s ../.git/refs refs &&
		echo "ref: refs/heads/main" >HEAD && cp /tmp/payload-symlinks config'
	trap_in_copy "$make_bare"
	human_git_status "$home/copy/docs"
	assert_pwned symlinks

	run --separate-stderr as_human au run sh -c "cd project && $make_bare"
	assert_success
	assert_regex "$stderr" "appeared at '$home/project/docs/HEAD' while the agent ran: moved it aside"
	human_git_status "$home/project/docs"
	assert [ ! -e /tmp/pwned-symlinks ]
}

@test "a repository that reads objects, refs and config through a commondir is taken apart" {
	share_project
	write_payload common
	# src/.git (the human's lib) has HEAD and a commondir; git reads objects/, refs/ and
	# config from docs, which has no HEAD of its own.
	make_repo='mkdir -p docs/objects docs/refs/heads && cp /tmp/payload-common docs/config && mv lib src/.git &&
		echo "ref: refs/heads/main" >src/.git/HEAD && echo ../../docs >src/.git/commondir'
	trap_in_copy "$make_repo"
	human_git_status "$home/copy/src"
	assert_pwned common

	run --separate-stderr as_human au run sh -c "cd project && $make_repo"
	assert_success
	assert_regex "$stderr" "a git directory appeared at '$home/project/src/.git' while the agent ran: moved it aside"
	assert_regex "$stderr" "appeared at '$home/project/docs/objects' while the agent ran: moved it aside"
	human_git_status "$home/project/src"
	assert [ ! -e /tmp/pwned-common ]
}

@test "a repository rebuilt at the path of the human's own, from the human's folders, is a new one" {
	as_human sh -c 'cd project/lib && git init -q . && git -c user.name=A -c user.email=a@x commit -q --allow-empty -m lib'
	share_project
	write_payload rebuilt
	# The human's lib/.git goes elsewhere with its folder; a lib made of the human's src
	# gets a .git made of the human's docs: every folder git checks is the human's.
	rebuild='mv lib lib-old && mv src lib && mv docs lib/.git && cd lib/.git && mkdir -p objects refs/heads &&
		echo "ref: refs/heads/main" >HEAD && cp /tmp/payload-rebuilt config'
	trap_in_copy "$rebuild"
	human_git_status "$home/copy/lib"
	assert_pwned rebuilt

	run --separate-stderr as_human au run sh -c "cd project && $rebuild"
	assert_success
	assert_regex "$stderr" "a git directory appeared at '$home/project/lib/.git' while the agent ran: moved it aside"
	human_git_status "$home/project/lib"
	assert [ ! -e /tmp/pwned-rebuilt ]
}

@test "quarantine cannot be pre-empted or exhausted, and the agent cannot reach into it" {
	share_project
	write_payload preempt bare
	# The old scheme: NAME.au-quarantine, then .1 to .99 beside it, all names the agent can take first.
	as_human au run sh -c 'cd project/src && mkdir .git.au-quarantine && for i in $(seq 1 99); do mkdir .git.au-quarantine.$i; done'
	run mv -T --no-clobber "$home/project/src/a.c" "$home/project/src/.git.au-quarantine.42"
	assert [ -d "$home/project/src/.git.au-quarantine.42" ]

	run --separate-stderr as_human au run sh -c 'cd project &&
		mkdir -p docs/objects docs/refs/heads && echo "ref: refs/heads/main" >docs/HEAD &&
		cp /tmp/payload-preempt docs/config && echo "gitdir: ../docs" >src/a.c && mv src/a.c src/.git'
	assert_success
	assert_regex "$stderr" "'$home/project/src/.git' while the agent ran: moved it aside to '$home/project/.au-quarantine-"
	human_git_status "$home/project/src"
	assert [ ! -e /tmp/pwned-preempt ]
	quarantine=$(cd "$home/project" && ls -d .au-quarantine-* | head -n 1)
	assert [ "$(stat -c '%U %a' "$home/project/$quarantine")" = "$AU_HUMAN 700" ]
	run as_human au run ls "project/$quarantine"
	assert_failure
	assert_output --partial "Permission denied"
}

@test "when the watch overflows, au checks every folder and still finds the trap" {
	share_project
	write_payload overflow bare
	make_trap='mkdir -p docs/objects docs/refs/heads && echo "ref: refs/heads/main" >docs/HEAD &&
		cp /tmp/payload-overflow docs/config && echo "gitdir: ../docs" >src/a.c && mv src/a.c src/.git'
	trap_in_copy "$make_trap"
	human_git_status "$home/copy/src"
	assert_pwned overflow

	# A queue of one event: any run overflows it (the flood an agent could make).
	echo 1 >/proc/sys/fs/fanotify/max_queued_events
	run --separate-stderr as_human env AU_DEBUG=protect au run sh -c "cd project && for i in \$(seq 50); do touch f\$i; done && $make_trap"
	assert_success
	if [[ $(watch_or_scan) == watch ]]; then
		assert_regex "$stderr" "checking '$home/project' everywhere \\(too many changes\\)"
	else
		assert_regex "$stderr" "checking '$home/project' everywhere \\(scanned before the run\\)"
	fi
	assert_regex "$stderr" "'$home/project/src/.git' while the agent ran: moved it aside"
	human_git_status "$home/project/src"
	assert [ ! -e /tmp/pwned-overflow ]
}

@test "a config changed through a hard link, with no event naming it, is still found" {
	share_project
	# A repository the human made after sharing: not in au's record, so not protected.
	as_human sh -c 'cd project && git init -q new'
	write_payload link
	change='ln new/.git/config x && cat /tmp/payload-link >>x && rm x'
	trap_in_copy "$change"
	human_git_status "$home/copy/new"
	assert_pwned link

	run --separate-stderr as_human env AU_DEBUG=protect au run sh -c "cd project && $change"
	if [[ $(watch_or_scan) == watch ]]; then
		assert_success
		assert_regex "$stderr" "checking '$home/project' everywhere \\(a hard link\\)"
		assert_regex "$stderr" "changed at '$home/project/new/.git/config' while the agent ran: moved it aside"
	else
		# Without birth times, no watch: the scan before the run found the repository, which
		# is protected from this run on, and the link cannot be made.
		assert_failure
		assert_regex "$stderr" "checking '$home/project' everywhere \\(scanned before the run\\)"
		assert_regex "$stderr" "ln: .*(Read-only file system|Invalid cross-device link)"
	fi
	human_git_status "$home/project/new"
	assert [ ! -e /tmp/pwned-link ]
}

@test "without fanotify, au scans before and after the run and still finds the trap" {
	share_project
	write_payload nowatch bare
	make_bare='cd docs && mkdir -p objects refs/heads && echo "ref: refs/heads/main" >HEAD && cp /tmp/payload-nowatch config'
	trap_in_copy "$make_bare"
	human_git_status "$home/copy/docs"
	assert_pwned nowatch

	# No fanotify group for anyone, root included: as on a kernel or file system without it.
	echo 0 >/proc/sys/fs/fanotify/max_user_groups
	run --separate-stderr as_human env AU_DEBUG=protect au run sh -c "cd project && $make_bare"
	assert_success
	assert_regex "$stderr" "checking '$home/project' everywhere \\(scanned before the run\\)"
	assert_regex "$stderr" "appeared at '$home/project/docs/HEAD' while the agent ran: moved it aside"
	human_git_status "$home/project/docs"
	assert [ ! -e /tmp/pwned-nowatch ]
}

@test "a repository the human made after sharing is learned, and protected from the next run on" {
	share_project
	as_human sh -c 'cd project && git init -q later && git -C later -c user.name=A -c user.email=a@x commit -q --allow-empty -m x'
	# First run: the agent commits there (git's own work), nothing is moved aside.
	run --separate-stderr as_human au run sh -c 'cd project/later && git -c safe.directory="*" -c user.name=B -c user.email=b@x commit -q --allow-empty -m agent && git -c safe.directory="*" checkout -q -b feature'
	assert_success
	refute_regex "$stderr" "moved it aside"
	# Next run: its hooks are read-only like those of the repositories au found at mount add.
	run --separate-stderr as_human au run sh -c 'echo "id -un > /tmp/pwned-later" >project/later/.git/hooks/pre-commit'
	assert_failure
	assert_regex "$stderr" "Read-only file system"
}

@test "a share with more repositories than the old limit of 1,024 protected paths runs, each protected" {
	as_human sh -c 'mkdir -p many && cd many && for i in $(seq 1 400); do git init -q r$i; done'
	as_human au mount add --rw many >/dev/null
	run --separate-stderr as_human au run sh -c 'echo x >many/r400/.git/hooks/pre-commit'
	assert_failure
	assert_regex "$stderr" "Read-only file system"
	run as_human au run sh -c 'echo x >many/r400/file && cat many/r400/file'
	assert_success
	assert_output x
}

@test "au keeps no record where the agent could write it, and says so" {
	as_human sh -c 'mkdir -p .local/state'
	as_human au mount add --rw .local >/dev/null 2>&1
	share_project
	run --separate-stderr as_human au run true
	assert_success
	assert_regex "$stderr" "cannot keep the records of the read-write shares in ~/.local/state/au: it is inside a folder you share"
	assert [ ! -e "$home/.local/state/au/shares/agent" ] || [ -z "$(ls "$home/.local/state/au/shares/agent")" ]
}

# --- class 2: hooks wherever config sends them -------------------------------------------

@test "core.hooksPath folders inside the worktree (husky) are read-only like .git/hooks" {
	as_human sh -c 'cd project && git config core.hooksPath .husky/_ && mkdir -p .husky/_ &&
		printf "#!/bin/sh\n. \"\$(dirname \"\$0\")/../pre-commit\"\n" >.husky/_/pre-commit &&
		printf "#!/bin/sh\ntrue\n" >.husky/pre-commit && chmod +x .husky/_/pre-commit .husky/pre-commit'
	share_project
	# Without au's binds the agent's group may write there (its ACL), and git runs it.
	trap_in_copy 'echo "id -un > /tmp/pwned-husky" >>.husky/pre-commit'
	as_human sh -c "cd '$home/copy' && git -c user.name=A -c user.email=a@x commit -q --allow-empty -m x" || true
	assert_pwned husky

	for hook in .husky/pre-commit .husky/_/pre-commit .husky/_/post-checkout; do
		run --separate-stderr as_human au run sh -c "echo 'id -un > /tmp/pwned-husky' >>project/$hook"
		assert_failure
		assert_regex "$stderr" "Read-only file system"
	done
	as_human sh -c 'cd project && git -c user.name=A -c user.email=a@x commit -q --allow-empty -m y'
	assert [ ! -e /tmp/pwned-husky ]
}

@test "a core.hooksPath folder that does not exist yet, made by the agent, is moved aside" {
	as_human sh -c 'cd project && git config core.hooksPath .githooks'
	share_project
	make_hook='mkdir -p .githooks && printf "#!/bin/sh\nid -un > /tmp/pwned-githooks\n" >.githooks/pre-commit &&
		chmod +x .githooks/pre-commit'
	trap_in_copy "$make_hook"
	as_human sh -c "cd '$home/copy' && git -c user.name=A -c user.email=a@x commit -q --allow-empty -m x" || true
	assert_pwned githooks

	run --separate-stderr as_human au run sh -c "cd project && $make_hook"
	assert_success
	assert_regex "$stderr" "a hooks folder or an included git config changed at '$home/project/.githooks' while the agent ran: moved it aside"
	as_human sh -c 'cd project && git -c user.name=A -c user.email=a@x commit -q --allow-empty -m y'
	assert [ ! -e /tmp/pwned-githooks ]
}

@test "a file that the repository's config includes from the worktree is protected, or moved aside when new" {
	as_human sh -c 'cd project && git config include.path ../.gitconfig.local && git config includeIf.onbranch:main.path ../.gitconfig.main && touch .gitconfig.local'
	share_project
	write_payload include
	trap_in_copy 'cat /tmp/payload-include >>.gitconfig.local'
	human_git_status "$home/copy"
	assert_pwned include

	run --separate-stderr as_human au run sh -c 'cat /tmp/payload-include >>project/.gitconfig.local'
	assert_failure
	assert_regex "$stderr" "Read-only file system"
	run --separate-stderr as_human au run sh -c 'cp /tmp/payload-include project/.gitconfig.main'
	assert_success
	assert_regex "$stderr" "included git config changed at '$home/project/.gitconfig.main' while the agent ran: moved it aside"
	human_git_status "$home/project"
	assert [ ! -e /tmp/pwned-include ]
}

@test ".envrc, .vscode and .idea are protected at every depth, and new ones are reported" {
	as_human sh -c 'mkdir -p project/docs/site/.vscode && echo "{}" >project/docs/site/.vscode/tasks.json &&
		mkdir -p project/src/app && echo "export A=1" >project/src/app/.envrc'
	share_project
	# Without au's binds the agent's group may write there: its ACL entry says rwx.
	run getfacl -cp "$home/project/docs/site/.vscode/tasks.json" "$home/project/src/app/.envrc"
	assert_output --partial "group:su-as-agent:rwx"
	refute_output --partial "#effective"

	run --separate-stderr as_human au run sh -c 'echo "{\"tasks\":[1]}" >project/docs/site/.vscode/tasks.json'
	assert_failure
	assert_regex "$stderr" "Read-only file system"
	run --separate-stderr as_human au run sh -c 'echo "curl x | sh" >>project/src/app/.envrc'
	assert_failure
	run --separate-stderr as_human au run sh -c 'mkdir -p project/lib/deep/er/.idea && echo x >project/lib/deep/er/.idea/workspace.xml && echo x >project/docs/.envrc'
	assert_success
	assert_regex "$stderr" "'$home/project/docs/.envrc' appeared or changed while the agent ran"
	assert_regex "$stderr" "'$home/project/lib/deep/er/.idea' appeared or changed while the agent ran"
}

@test "mount add --rw gives the command that makes git refuse bare repositories it was not told of, until it is set" {
	# Without it, git takes a bare-looking folder for a repository wherever the human runs it.
	run as_human git config --global --get safe.bareRepository
	assert_failure
	run --separate-stderr as_human au mount add --rw project
	assert_success
	assert_regex "$stderr" "git takes any folder that looks like a bare repository for one"
	assert_line '$ git config --global safe.bareRepository explicit'
	as_human git config --global safe.bareRepository explicit
	as_human sh -c 'mkdir -p other'
	run --separate-stderr as_human au mount add --rw other
	assert_success
	refute_regex "$stderr" "bare repository"
	refute_line '$ git config --global safe.bareRepository explicit'
}
