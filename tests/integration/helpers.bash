# helpers.bash: what every integration and security test loads (load helpers).
#
# The tests run as root inside the throwaway world that tools/world builds (see
# tools/run-checks): a private /etc and empty /home, with au installed at $AU_PREFIX and
# the human $AU_HUMAN. They act as that human through as_human. Everything they make is
# undone by world_teardown, the default teardown, so that tests stay independent.

load /usr/lib/bats/bats-support/load
load /usr/lib/bats/bats-assert/load
bats_require_minimum_version 1.5.0

AU_HUMAN=${AU_HUMAN:-alice}
# The protocol word the entrypoint speaks (argv[1]), from its own source.
SU_PROTOCOL=$(sed -n 's/^#define SU_PROTOCOL "\(.*\)"$/\1/p' "${AU_REPO:-.}/entrypoint/su_as_agent.c")
AU_PREFIX=${AU_PREFIX:-/opt/au}
WORLD_STATE=/run/au-world

# True only inside the world that tools/world built: AU_WORLD says so, and the mounts
# agree. Nothing here creates or deletes users anywhere else.
in_world() {
	[[ -n ${AU_WORLD:-} ]] || return 1
	mountpoint -q /etc || return 1
	[[ $(findmnt -n -o FSTYPE --target /home) == tmpfs ]] || return 1
	[[ -f $WORLD_STATE/users ]]
}

# Call first in every test (or in setup).
require_world() {
	if [[ -z ${AU_WORLD:-} ]]; then
		if [[ ${AU_TESTS_MUST_WORK:-} == 1 ]]; then
			fail "integration tests need root and the throwaway world, and AU_TESTS_MUST_WORK=1"
		fi
		skip "integration tests need root and the throwaway world (sudo make check)"
	fi
	in_world || fail "AU_WORLD is set, but this is not the throwaway world (tools/world)"
}

# as_human [--stdin] CMD [ARGS...]: run CMD as the human through a login shell, as
# they would type it. Standard input is /dev/null unless --stdin passes ours on.
# The login shell clears the environment: pass variables with "env NAME=VALUE CMD".
as_human() {
	local keep_stdin=0

	if [[ ${1:-} == --stdin ]]; then
		keep_stdin=1
		shift
	fi
	if ((keep_stdin)); then
		su - "$AU_HUMAN" -c "$(printf '%q ' "$@")"
	else
		su - "$AU_HUMAN" -c "$(printf '%q ' "$@")" </dev/null
	fi
}

# as_root CMD [ARGS...]: run CMD as root, with au first in PATH.
as_root() {
	PATH=$AU_PREFIX/bin:$PATH "$@" </dev/null
}

human_home() {
	getent passwd "$AU_HUMAN" | cut -d: -f6
}

human_config() {
	echo "$(human_home)/.config/agent-as-unix-user.toml"
}

# Remove the human's au config (and what au keeps beside it: backups, temporary files).
fresh_config() {
	rm -f "$(human_config)" "$(human_config)".*
}

# write_config: the human's config from standard input, owned by the human, as if
# they had written it with an editor.
write_config() {
	local home
	home=$(human_home)
	install -d -o "$AU_HUMAN" -g "$AU_HUMAN" -m 0755 "$home/.config"
	cat >"$(human_config)"
	chown "$AU_HUMAN:$AU_HUMAN" "$(human_config)"
	chmod 0644 "$(human_config)"
}

# Undo what a test made: every user, group and home that the world did not start with
# (the agents, with their processes and installed entrypoints), and the human's home as
# it was (config, shared folders, ACLs, mode).
world_teardown() {
	in_world || return 0
	local name home

	while IFS=: read -r name _ _ _ _ home _; do
		grep -qxF -- "$name" "$WORLD_STATE/users" && continue
		pkill -KILL -u "$name" 2>/dev/null || true
		userdel --force "$name" 2>/dev/null || true
		case $home in
		/home/?*) rm -rf --one-file-system -- "$home" ;;
		esac
		rm -rf --one-file-system -- "/home/$name" "$AU_PREFIX/libexec/agent-as-unix-user/$name"
	done < <(getent passwd)
	while IFS=: read -r name _; do
		grep -qxF -- "$name" "$WORLD_STATE/groups" && continue
		groupdel "$name" 2>/dev/null || true
	done < <(getent group)
	# Homes whose user is already gone (au delete keeps the home unless told).
	for home in /home/*; do
		[[ -e $home ]] || continue
		grep -qxF -- "${home#/home/}" "$WORLD_STATE/homes" && continue
		rm -rf --one-file-system -- "$home"
	done
	# Every agent's entrypoint folder; au's own programs there (the network proxy) stay.
	find "$AU_PREFIX/libexec/agent-as-unix-user" -mindepth 1 -maxdepth 1 -type d -exec rm -rf --one-file-system -- {} +

	rm -rf --one-file-system -- "$(human_home)"
	tar -C /home -xpf "$WORLD_STATE/human-home.tar"
}

teardown() {
	world_teardown
}
