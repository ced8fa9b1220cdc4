# shares.bash: what the read-write share attack tests (4x-*.bats) share: an agent with a
# project shared read-write, the agent's hands outside au run, and a process of the
# agent's left running (au run --keep-running) that races the human's au commands.

load ../integration/helpers

shares_setup() {
	require_world
	fresh_config
	home=$(human_home)
	tools_dir=
	run --separate-stderr as_human au new --yes
	assert_success
	as_human mkdir -p project/sub
	as_human sh -c 'echo hello >project/file'
	as_human sh -c 'mkdir -m 700 .ssh && echo secret-key >.ssh/id_ed25519 && chmod 600 .ssh/id_ed25519'
	rm -f /tmp/pwned-*
}

shares_teardown() {
	pkill -KILL -u agent 2>/dev/null || true
	[[ -n $tools_dir ]] && rm -rf "$tools_dir"
	rm -f /tmp/pwned-*
	world_teardown
}

# as_agent CMD: the shell command CMD as the agent, outside any au run.
as_agent() {
	su agent -s /bin/sh -c "$1" </dev/null
}

# ssh_state: what a user would compare: modes, owners, times (ctime moves with any ACL change).
ssh_state() {
	stat -c '%n %a %u %g %y %z' "$home/.ssh" "$home/.ssh/id_ed25519"
}

# build_exchanger: /tmp/...: xchg DIR A B swaps the names A and B in DIR
# (renameat2 RENAME_EXCHANGE) as fast as it can until it is killed.
build_exchanger() {
	tools_dir=$(mktemp -d /tmp/au-tools.XXXXXX)
	chmod 0755 "$tools_dir"
	cat >"$tools_dir/xchg.c" <<-'C'
		#define _GNU_SOURCE
		#include <fcntl.h>
		#include <stdio.h>
		#include <unistd.h>
		#include <linux/fs.h>
		#include <sys/syscall.h>

		int main(int argc, char **argv)
		{
			int dfd = argc == 4 ? open(argv[1], O_RDONLY | O_DIRECTORY) : -1;

			if (dfd < 0)
				return 2;
			for (;;)
				syscall(SYS_renameat2, dfd, argv[2], dfd, argv[3], RENAME_EXCHANGE);
		}
	C
	gcc -O2 -o "$tools_dir/xchg" "$tools_dir/xchg.c"
}

# agent_keeps_running CMD...: starts CMD as the agent through au run --keep-running, the
# way an agent leaves a process behind, and returns once au run has.
agent_keeps_running() {
	run --separate-stderr as_human au run --no-login --keep-running -- sh -c \
		'"$@" </dev/null >/dev/null 2>&1 & sleep 0.5' sh "$@"
	assert_success
	pgrep -u agent -f "$1" >/dev/null || fail "the agent's process did not stay"
}

# acl_of PATH: its ACL entries for the agent's group, or nothing.
group_entries() {
	getfacl --absolute-names --omit-header "$1" 2>/dev/null | grep 'su-as-agent' || true
}
