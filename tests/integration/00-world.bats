#!/usr/bin/env bats
# The throwaway world itself: the other tests trust it to keep them off the host.

load helpers

setup() {
	require_world
}

@test "the world has its own /etc, and empty tmpfs homes, /tmp, /run and prefix" {
	run mountpoint /etc
	assert_success
	for dir in /home /tmp /run /var/log "$AU_PREFIX"; do
		run findmnt -n -o FSTYPE "$dir"
		assert_output tmpfs
	done
	run stat -c %a /tmp
	assert_output 1777
	# au refuses to install its setuid entrypoint below a writable directory.
	run stat -c %a "$AU_PREFIX"
	assert_output 755
	# Only the human's home, and the way to the repository if it lives below /home.
	local entry
	for entry in /home/*; do
		[[ $entry == "/home/$AU_HUMAN" || $AU_REPO/ == "$entry"/* ]] ||
			fail "the host's $entry shows through"
	done
}

@test "the world runs in its own PID namespace" {
	# The world's init is tools/world; the host's init is invisible.
	run cat /proc/1/cmdline
	assert_output --partial tools/world
}

@test "the human exists, with a private home and bash" {
	run getent passwd "$AU_HUMAN"
	assert_success
	assert_output --regexp ":/home/$AU_HUMAN:/bin/bash\$"
	run stat -c '%a %U' "$(human_home)"
	assert_output "750 $AU_HUMAN"
}

@test "the human runs the installed au and has passwordless sudo" {
	run as_human command -v au
	assert_output "$AU_PREFIX/bin/au"
	run as_human au --version
	assert_success
	run as_human sudo -n true
	assert_success
	run as_human id -un
	assert_output "$AU_HUMAN"
}

@test "as_human passes arguments through unchanged, and stdin only when asked" {
	run as_human printf '<%s>' 'two words' "it's" '$HOME' ''
	assert_output "<two words><it's><\$HOME><>"
	run as_human cat
	assert_output ""
	run as_human --stdin cat <<<"hello"
	assert_output "hello"
}

@test "world_teardown removes the users, groups and homes a test made" {
	groupadd su-as-teardown-probe
	useradd --create-home --gid su-as-teardown-probe teardown-probe
	usermod --append --groups su-as-teardown-probe "$AU_HUMAN"
	mkdir -p "$AU_PREFIX/libexec/agent-as-unix-user/teardown-probe"
	mkdir /home/orphan-probe
	chmod 0755 "$(human_home)"
	write_config <<<"disable_home_access_check = true"

	world_teardown

	run getent passwd teardown-probe
	assert_failure
	run getent group su-as-teardown-probe
	assert_failure
	assert [ ! -e /home/teardown-probe ]
	assert [ ! -e /home/orphan-probe ]
	assert [ -d "$(human_home)" ]
	assert [ ! -e "$AU_PREFIX/libexec/agent-as-unix-user/teardown-probe" ]
	assert [ ! -e "$(human_config)" ]
	run stat -c %a "$(human_home)"
	assert_output 750
	run id -Gn "$AU_HUMAN"
	refute_output --partial su-as-teardown-probe
}
