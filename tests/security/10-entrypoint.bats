#!/usr/bin/env bats
# The setuid entrypoint against those who should not use it (the agent, another user),
# against a file that is no longer the one au new installed, and against the agent's
# own traps (a symlink under a mount target, an empty argv). Each test first shows that
# the attack works where the defence is absent, then that it fails against au.

load ../integration/helpers

EP_DIR=$AU_PREFIX/libexec/agent-as-unix-user/agent
EP=$EP_DIR/su_as_agent
# What a command that must not run would leave behind.
RAN=/tmp/au-test-ran

setup() {
	require_world
	fresh_config
	local out
	out=$(as_human au new --yes 2>&1) || fail "au new failed: $out"
	rm -f /tmp/au-test-*
}

teardown() {
	rm -f /tmp/au-test-*
	rmdir /etc/x 2>/dev/null || true
	world_teardown
}

recorded_sha256() {
	sed -n 's/^entrypoint_sha256 = "\(.*\)"$/\1/p' "$(human_config)"
}

# Point the config's entrypoint at PATH, as the human would with an editor.
set_config_entrypoint() {
	sed "s|^entrypoint = .*|entrypoint = \"$1\"|" "$(human_config)" >"$BATS_TEST_TMPDIR/config"
	write_config <"$BATS_TEST_TMPDIR/config"
}

# au run refuses the entrypoint with exit 1, saying why (REGEX), and nothing runs.
assert_au_run_refuses() {
	run --separate-stderr as_human au run touch "$RAN"
	assert_failure 1
	assert_regex "${stderr_lines[0]}" "^au: refusing to run the entrypoint of agent 'agent': $1"
	assert [ ! -e "$RAN" ]
}

@test "the agent can execute the entrypoint, which refuses it with 125 and runs nothing" {
	# The agent is in the entrypoint's group: the file's mode does not keep it out.
	run su agent -s /bin/sh -c "test -x '$EP'" </dev/null
	assert_success

	run --separate-stderr su agent -s /bin/sh -c "'$EP' au1 -- touch '$RAN'" </dev/null
	assert_failure 125
	assert_regex "$stderr" "permission denied: only uid $(id -u "$AU_HUMAN") may use this entrypoint"
	assert [ ! -e "$RAN" ]
}

@test "another user in the agent's group can execute the entrypoint, which refuses it with 125" {
	useradd --create-home mallory
	usermod --append --groups su-as-agent mallory
	run su mallory -s /bin/sh -c "test -x '$EP'" </dev/null
	assert_success

	run --separate-stderr su mallory -s /bin/sh -c "'$EP' au1 -- touch '$RAN'" </dev/null
	assert_failure 125
	assert_regex "$stderr" "permission denied: only uid $(id -u "$AU_HUMAN") may use this entrypoint"
	assert [ ! -e "$RAN" ]
}

@test "au run refuses an entrypoint replaced by another program, and runs none of it" {
	# A setuid program of someone else's at the entrypoint's place, owner and mode kept.
	cat >"$BATS_TEST_TMPDIR/impostor.c" <<-'EOF'
		#include <fcntl.h>
		int main(void) { return open("/tmp/au-test-impostor-ran", O_WRONLY | O_CREAT, 0644) < 0; }
	EOF
	cc -o "$BATS_TEST_TMPDIR/impostor" "$BATS_TEST_TMPDIR/impostor.c"
	install -o root -g su-as-agent -m 4750 "$BATS_TEST_TMPDIR/impostor" "$EP"
	# Run by its path, as the reference tool ran its entrypoint, it runs as root.
	run as_human "$EP" au1 -- true
	assert_success
	run stat -c %U /tmp/au-test-impostor-ran
	assert_output root
	rm /tmp/au-test-impostor-ran

	assert_au_run_refuses "'$EP' has SHA-256 $(sha256sum "$EP" | cut -d' ' -f1), expected $(recorded_sha256)"
	assert [ ! -e /tmp/au-test-impostor-ran ]
}

@test "au run refuses an entrypoint replaced by a copy of /bin/true" {
	install -o root -g su-as-agent -m 4750 /bin/true "$EP"
	run as_human "$EP"
	assert_success

	assert_au_run_refuses "'$EP' has SHA-256 $(sha256sum /bin/true | cut -d' ' -f1), expected $(recorded_sha256)\$"
}

@test "au run refuses an entrypoint made executable by everyone (chmod 4755)" {
	useradd --create-home mallory
	run su mallory -s /bin/sh -c "test -x '$EP'" </dev/null
	assert_failure
	chmod 4755 "$EP"
	# Now anyone, not only the agent's group, can run it.
	run su mallory -s /bin/sh -c "test -x '$EP'" </dev/null
	assert_success

	assert_au_run_refuses "'$EP' has mode 4755, expected 4750\$"
}

@test "au run refuses an entrypoint owned by the human instead of root" {
	chown "$AU_HUMAN" "$EP"
	chmod 4750 "$EP"
	# Its owner can rewrite it.
	run as_human test -w "$EP"
	assert_success

	assert_au_run_refuses "'$EP' is owned by uid $(id -u "$AU_HUMAN"), expected root \(uid 0\)\$"
}

@test "au run refuses an entrypoint whose group was changed" {
	# A group of the human's (so that au can read the file and compare), and mallory's.
	groupadd au-test-others
	useradd --create-home --gid au-test-others mallory
	usermod --append --groups au-test-others "$AU_HUMAN"
	chgrp au-test-others "$EP"
	chmod 4750 "$EP"
	# Now the members of that group, not the agent's, can run it.
	run su mallory -s /bin/sh -c "test -x '$EP'" </dev/null
	assert_success

	assert_au_run_refuses "'$EP' has group gid $(getent group au-test-others | cut -d: -f3), expected 'su-as-agent' \(gid $(getent group su-as-agent | cut -d: -f3)\)\$"
}

@test "au run refuses an entrypoint moved to a folder its group can write" {
	local dir=$AU_PREFIX/libexec/agent-as-unix-user/shared
	install -d -o root -g su-as-agent -m 2775 "$dir"
	mv "$EP" "$dir/su_as_agent"
	set_config_entrypoint "$dir/su_as_agent"
	# There, the agent can swap the file for its own between check and use.
	run su agent -s /bin/sh -c "mv '$dir/su_as_agent' '$dir/mine' && mv '$dir/mine' '$dir/su_as_agent'" </dev/null
	assert_success
	run stat -c '%a %U %G' "$dir/su_as_agent"
	assert_output "4750 root su-as-agent"

	assert_au_run_refuses "'$dir' is writable by others \(owner uid 0, mode 2775\)"
}

@test "au run refuses an entrypoint path that goes through a symlink" {
	local link=$AU_PREFIX/libexec/agent-as-unix-user/link
	ln -s agent "$link"
	set_config_entrypoint "$link/su_as_agent"
	# Resolved as a string, the path reaches a file with the recorded hash.
	run sha256sum "$link/su_as_agent"
	assert_output --partial "$(recorded_sha256)"

	assert_au_run_refuses "'$link' is a symlink\$"
}

@test "a mount target under a symlink the agent planted is refused with 125, and /etc is untouched" {
	install -d -o "$AU_HUMAN" -g "$AU_HUMAN" "$(human_home)/x"
	run su agent -s /bin/sh -c 'ln -s /etc /home/agent/link' </dev/null
	assert_success
	# Followed as root, as the reference tool's mkdir -p did, the path lands in /etc.
	mkdir -p /home/agent/link/x
	assert [ -d /etc/x ]
	rmdir /etc/x
	local etc_before
	etc_before=$(ls -la --time-style=full-iso /etc)

	run --separate-stderr as_human "$EP" au2 -r "$(human_home)/x" /home/agent/link/x -- touch "$RAN"
	assert_failure 125
	assert_regex "$stderr" "'/home/agent/link/x' has a symlink at 'link': refusing to follow it"
	assert [ ! -e /etc/x ]
	assert_equal "$(ls -la --time-style=full-iso /etc)" "$etc_before"
	assert [ ! -e "$RAN" ]
}

@test "the entrypoint called with an empty argv (argc == 0) exits 125 and runs nothing" {
	local home
	home=$(human_home)
	# execve with argv = { NULL }, as in pkexec's CVE-2021-4034.
	cat >"$BATS_TEST_TMPDIR/noargv.c" <<-'EOF'
		#include <stdio.h>
		#include <unistd.h>
		extern char **environ;
		int main(int argc, char **argv)
		{
			char *none[] = { NULL };
			if (argc < 2)
				return 2;
			execve(argv[1], none, environ);
			perror("execve");
			return 126;
		}
	EOF
	cat >"$BATS_TEST_TMPDIR/naive.c" <<-'EOF'
		#include <stdio.h>
		int main(int argc, char **argv)
		{
			printf("argc=%d argv0=%s\n", argc,
			       argc < 1 || !argv[0] ? "(none)" : argv[0][0] ? argv[0] : "(empty)");
			return 0;
		}
	EOF
	cc -o "$home/noargv" "$BATS_TEST_TMPDIR/noargv.c"
	cc -o "$home/naive" "$BATS_TEST_TMPDIR/naive.c"
	chown "$AU_HUMAN" "$home/noargv" "$home/naive"
	# A program that is not ready for it gets no name, and no arguments, at all.
	run as_human "$home/noargv" "$home/naive"
	assert_success
	assert_output --regexp '^argc=(0 argv0=\(none\)|1 argv0=\(empty\))$'

	run --separate-stderr as_human "$home/noargv" "$EP"
	assert_failure 125
	assert_regex "$stderr" "^au: entrypoint: "
}

@test "the report channel (fd 3) reaches the entrypoint's outer side only, never the agent" {
	install -d -o "$AU_HUMAN" -g "$AU_HUMAN" "$(human_home)/project"
	run as_human au mount add --rw "$(human_home)/project"
	assert_success
	# Without the defence: a child simply inherits its parent's fd 3.
	run sh -c 'ls /proc/$$/fd' 3</dev/null
	assert_line 3
	# With a read-write share au stays the parent and passes the channel as fd 3; the
	# command holds 0, 1 and 2 only.
	run --separate-stderr as_human au run --no-login -- sh -c 'ls /proc/$$/fd'
	assert_success
	assert_output "$(printf '0\n1\n2')"
}
