#!/usr/bin/env bats
# The shared folders against a hostile agent: symlinks planted at mount targets, sources
# swapped for symlinks, symlinks inside read-write trees, and a rename race during the
# ACL walk. Each test first shows the attack working where the defence is absent (root's
# plain mount --bind, a symlink-following setfacl), then failing against au.

load ../integration/helpers

setup() {
	require_world
	fresh_config
	home=$(human_home)
	swapper_pid=
	run --separate-stderr as_human au new --yes
	assert_success
	as_human mkdir -p project/sub
	as_human sh -c 'echo hello >project/file'
	# What the agent is after.
	as_human sh -c 'mkdir -m 700 .ssh && echo secret-key >.ssh/id_ed25519 && chmod 600 .ssh/id_ed25519'
}

teardown() {
	if [[ -n $swapper_pid ]]; then
		kill "$swapper_pid" 2>/dev/null || true
		wait "$swapper_pid" 2>/dev/null || true
	fi
	world_teardown
}

# as_agent CMD: run the shell command CMD as the agent, outside any au run.
as_agent() {
	su agent -s /bin/sh -c "$1" </dev/null
}

# What a user would compare: mode, owners, times (ctime moves with any ACL change).
ssh_state() {
	stat -c '%n %a %u %g %y %z' "$home/.ssh" "$home/.ssh/id_ed25519"
}

# Every mount of this (the test's) namespace, to show that au run mounted nothing here.
mount_table() {
	cut -d' ' -f4- /proc/self/mountinfo
}

# A listing of /etc that changes when anything is created, removed or mounted there.
etc_state() {
	ls -la --time-style=full-iso /etc
}

@test "a symlink planted by the agent at the mount target is refused, /etc untouched" {
	as_human au mount add --rw project
	# The target, which an earlier au run would have made, is a symlink to /etc now.
	as_agent 'rm -rf /home/agent/project && ln -s /etc /home/agent/project'
	assert [ -L /home/agent/project ]

	# Without the defence: a mount by path follows the symlink onto /etc.
	run unshare --mount sh -c "mount --bind '$home/project' /home/agent/project && ls /etc"
	assert_success
	assert_line file

	local etc_before mounts_before
	etc_before=$(etc_state)
	mounts_before=$(mount_table)
	run --separate-stderr as_human au run ls
	assert_failure 125
	assert_regex "$stderr" "'/home/agent/project' has a symlink at 'project'"
	assert_equal "$(etc_state)" "$etc_before"
	assert_equal "$(mount_table)" "$mounts_before"
	run getfacl --absolute-names --skip-base /etc
	assert_output ""
}

@test "a symlink planted by the agent at a parent of the mount target is refused" {
	as_human au mount add project /home/agent/conf/default
	as_agent 'rm -rf /home/agent/conf && ln -s /etc /home/agent/conf'
	assert [ -L /home/agent/conf ]

	# Without the defence: the mount lands on /etc/default.
	run unshare --mount sh -c "mount --bind '$home/project' /home/agent/conf/default && ls /etc/default"
	assert_success
	assert_line file

	local etc_before mounts_before
	etc_before=$(etc_state)
	mounts_before=$(mount_table)
	run --separate-stderr as_human au run ls
	assert_failure 125
	assert_regex "$stderr" "'/home/agent/conf/default' has a symlink at 'conf'"
	assert_equal "$(etc_state)" "$etc_before"
	assert_equal "$(mount_table)" "$mounts_before"
}

@test "a mount source swapped for a symlink by the agent after mount add is refused" {
	# sub is shared on its own, outside project's target: in the agent's view,
	# project/sub is a plain folder that it may rename.
	as_human au mount add --rw project
	as_human au mount add project/sub /home/agent/sub
	run --separate-stderr as_human au run sh -c \
		"mv project/sub project/sub.old && ln -s $home/.ssh project/sub"
	assert_success
	assert [ -L "$home/project/sub" ]

	# Without the defence: a bind mount by path shows the human's keys.
	run unshare --mount sh -c "mount --bind '$home/project/sub' /home/agent/sub && ls /home/agent/sub"
	assert_success
	assert_line id_ed25519

	run --separate-stderr as_human au run sh -c 'ls -a /home/agent/sub; cat /home/agent/sub/*'
	assert_failure 125
	assert_regex "$stderr" "'$home/project/sub' has a symlink at 'sub'"
	refute_output --partial id_ed25519
	refute_output --partial secret-key
}

@test "a symlink to ~/.ssh inside a read-write tree gets no ACL on ~/.ssh" {
	as_human au mount add --rw project
	as_human au run ln -s "$home/.ssh" project/keys
	as_human mkdir decoy

	# Without the defence: a walk that follows symlinks reaches the target.
	as_human sh -c 'mkdir demo && ln -s ~/decoy demo/keys'
	setfacl -R -L -m g:su-as-agent:rwx "$home/demo"
	run getfacl --omit-header "$home/decoy"
	assert_line "group:su-as-agent:rwx"

	local before
	before=$(ssh_state)
	run --separate-stderr as_human au mount remove project
	assert_success
	run --separate-stderr as_human au mount add --rw project
	assert_success
	run getfacl -R --absolute-names --skip-base "$home/.ssh"
	assert_output ""
	assert_equal "$(ssh_state)" "$before"
}

@test "a symlink made by the agent is refused as the SOURCE of mount add" {
	as_human au mount add --rw project
	as_human au run ln -s "$home/.ssh" project/link
	assert [ "$(stat -c %U "$home/project/link")" = agent ]

	# Without the defence: resolved, the link is a folder of the human's, in her home.
	assert_equal "$(realpath "$home/project/link")" "$home/.ssh"
	assert_equal "$(stat -c %U "$(realpath "$home/project/link")")" "$AU_HUMAN"

	local sum_before before
	sum_before=$(sha256sum "$(human_config)")
	before=$(ssh_state)
	run --separate-stderr as_human au mount add --rw project/link
	assert_failure 1
	assert_regex "$stderr" "'$home/project/link' is a symlink made by uid $(id -u agent), not by you"
	assert_equal "$(sha256sum "$(human_config)")" "$sum_before"
	run getfacl -R --absolute-names --skip-base "$home/.ssh"
	assert_output ""
	assert_equal "$(ssh_state)" "$before"

	# Nor through it, to something below.
	run --separate-stderr as_human au mount add project/link/id_ed25519 /home/agent/key
	assert_failure 1
	assert_regex "$stderr" "is a symlink made by uid"
}

# A C program, run as the agent, that swaps each folder dNNN of DIR with a symlink to
# TARGET (rename-exchange) as fast as it can until SIGTERM, then puts them back and
# writes how many swaps it made.
build_swapper() {
	swapdir=$(mktemp -d /tmp/swapper.XXXXXX)
	chmod 0755 "$swapdir"
	cat >"$swapdir/swapper.c" <<-'EOF'
		#define _GNU_SOURCE
		#include <fcntl.h>
		#include <signal.h>
		#include <stdio.h>
		#include <stdlib.h>
		#include <sys/syscall.h>
		#include <unistd.h>
		#include <linux/fs.h>

		static volatile sig_atomic_t stop;
		static void on_term(int sig) { (void)sig; stop = 1; }

		static unsigned long round_of(int dfd, int n)
		{
			char a[32], b[32];
			unsigned long swaps = 0;

			for (int i = 1; i <= n; i++) {
				snprintf(a, sizeof(a), "d%03d", i);
				snprintf(b, sizeof(b), "d%03d.lnk", i);
				if (syscall(SYS_renameat2, dfd, a, dfd, b, RENAME_EXCHANGE) == 0)
					swaps++;
			}
			return swaps;
		}

		int main(int argc, char **argv)
		{
			int dfd = open(argv[1], O_RDONLY | O_DIRECTORY);
			int n = atoi(argv[3]);
			unsigned long swaps = 0, rounds = 0;
			char b[32];

			if (argc != 4 || dfd < 0)
				return 2;
			signal(SIGTERM, on_term);
			for (int i = 1; i <= n; i++) {
				snprintf(b, sizeof(b), "d%03d.lnk", i);
				if (symlinkat(argv[2], dfd, b) < 0)
					return 1;
			}
			while (!stop) {
				swaps += round_of(dfd, n);
				rounds++;
			}
			if (rounds % 2)
				round_of(dfd, n);
			for (int i = 1; i <= n; i++) {
				snprintf(b, sizeof(b), "d%03d.lnk", i);
				unlinkat(dfd, b, 0);
			}
			printf("%lu\n", swaps);
			return 0;
		}
	EOF
	gcc -O2 -o "$swapdir/swapper" "$swapdir/swapper.c"
}

# start_swapper TARGET: the agent starts swapping ~/project's folders for symlinks to TARGET.
start_swapper() {
	setpriv --reuid agent --regid su-as-agent --clear-groups \
		"$swapdir/swapper" "$home/project" "$1" 200 >"$swapdir/swaps" &
	swapper_pid=$!
	sleep 0.2
}

# stop_swapper: stops it; its swap count is in $swaps.
stop_swapper() {
	kill -TERM "$swapper_pid"
	wait "$swapper_pid"
	swapper_pid=
	swaps=$(cat "$swapdir/swaps")
}

@test "racing symlink swaps during the ACL walk never reach ~/.ssh" {
	# 200 folders of 100 files, which the agent may rename (as if it had write access
	# through an earlier share): a user entry, which mount remove does not take back.
	as_human sh -c 'cd project && for d in $(seq -f d%03g 1 200); do
		mkdir $d && (cd $d && touch $(seq -f f%03g 1 100)); done'
	setfacl -m u:agent:x "$home"
	setfacl -m u:agent:rwx "$home/project"
	as_human mkdir decoy
	build_swapper

	# Without the defence: a walk that checks each entry, then acts on its path.
	start_swapper "$home/decoy"
	find "$home/project" -mindepth 1 ! -type l -exec setfacl -m g:su-as-agent:rwx {} + 2>/dev/null || true
	stop_swapper
	run getfacl --omit-header "$home/decoy"
	assert_line "group:su-as-agent:rwx"

	local before i
	before=$(ssh_state)
	start_swapper "$home/.ssh"
	for i in 1 2 3 4 5; do
		run --separate-stderr as_human au mount add --rw project
		assert_success
		run --separate-stderr as_human au mount remove project
		assert_success
	done
	stop_swapper
	((swaps > 10000)) || fail "the agent made only $swaps swaps: no race"

	run getfacl -R --absolute-names --skip-base "$home/.ssh"
	assert_output ""
	assert_equal "$(ssh_state)" "$before"
}

# The protected paths are bind mounts on .git/hooks and .git/config. The agent could rename
# .git itself away (a folder holding mounts is not busy) and put one of the human's own
# folders (here .git-old/refs) in its place, filled with a repository whose hooks are its
# own; the human's next git commit would run them. au binds each git directory of the
# human's over itself, so it is a mount point, which cannot be renamed.
@test "the agent cannot replace .git to get its own hooks run by the human" {
	as_human sh -c 'cd project && git init -q && git -c user.name=A -c user.email=a@x commit -q --allow-empty -m init'
	as_human au mount add --rw project

	# The protected hook itself is read-only.
	run --separate-stderr as_human au run sh -c 'echo evil >project/.git/hooks/pre-commit'
	assert_failure
	assert_regex "$stderr" 'Read-only file system'

	# Where nothing pins it, the swap works: as root, on the real folder, with the same commands.
	cp -a "$home/project" "$home/decoy"
	(cd "$home/decoy" && mv .git .git-old && mv .git-old/refs .git) || fail "the swap should work unpinned"

	# The swap, as the agent would do it through au.
	run --separate-stderr as_human au run sh -c 'cd project && mv .git .git-old &&
		mv .git-old/refs .git && mkdir .git/refs && mv .git/heads .git/tags .git/refs/ &&
		cp -r .git-old/HEAD .git-old/objects .git/ && mkdir .git/hooks &&
		printf "[core]\n\trepositoryformatversion = 0\n\tbare = false\n" >.git/config &&
		printf "#!/bin/sh\ntouch /tmp/pwned-by-agent\n" >.git/hooks/pre-commit &&
		chmod +x .git/hooks/pre-commit'
	assert_failure
	assert_regex "$stderr" 'busy'
	assert [ -d "$home/project/.git/objects" ]
	rm -f /tmp/pwned-by-agent

	as_human sh -c 'cd project && git -c user.name=A -c user.email=a@x commit -q --allow-empty -m second' || true
	assert [ ! -e /tmp/pwned-by-agent ]
}

# BUG: a protected path is made read-only only where it exists when au run starts. In a
# repository without a hooks folder (git init --template= with an empty template, as some
# clones and tools make them) the agent creates .git/hooks/pre-commit, and the human's next
# git commit runs it as the human; au mount list still says .git/hooks is read-only.
@test "the agent cannot add a hook to a repository that has no hooks folder" {
	as_human sh -c 'cd project && git init -q --template= &&
		git -c user.name=A -c user.email=a@x commit -q --allow-empty -m init'
	assert [ ! -e "$home/project/.git/hooks" ]
	as_human au mount add --rw project
	run --separate-stderr as_human au mount list
	assert_output --partial .git/hooks

	as_human au run sh -c 'mkdir project/.git/hooks &&
		printf "#!/bin/sh\ntouch /tmp/pwned-by-agent\n" >project/.git/hooks/pre-commit &&
		chmod +x project/.git/hooks/pre-commit' || true
	rm -f /tmp/pwned-by-agent

	as_human sh -c 'cd project && git -c user.name=A -c user.email=a@x commit -q --allow-empty -m second' || true
	assert [ ! -e /tmp/pwned-by-agent ]
}

# A protected path is made read-only where it exists. With no .vscode folder in the
# repository the agent can create .vscode/settings.json (which can name programs the editor
# runs as the human); au cannot mount over what does not exist, so it says so after the run.
@test "au warns when the agent creates .vscode settings in a repository that has none" {
	as_human git init -q project
	as_human au mount add --rw project

	run --separate-stderr as_human au run sh -c \
		'mkdir project/.vscode && echo "{}" >project/.vscode/settings.json'
	assert_success
	assert_regex "$stderr" "warning: '$home/project/.vscode' appeared or changed while the agent ran"

	# From the next run on, it is read-only for the agent.
	run --separate-stderr as_human au run sh -c 'echo "{}" >project/.vscode/settings.json'
	assert_failure
	assert_regex "$stderr" 'Read-only file system'
}
