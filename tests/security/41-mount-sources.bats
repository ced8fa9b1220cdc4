#!/usr/bin/env bats
# The source of "au mount add" must be the folder the human meant: no symlink the agent
# made or moved on the way, no folder of the agent's, never a secret of the human's nor
# au's own state, and, at every au run, still the very inode that was shared. Each test
# first shows the trap with plain tools (realpath, setfacl, mount), then au refusing it.

load shares

setup() {
	shares_setup
}

teardown() {
	shares_teardown
}

# The agent, left running, swaps project/sub (a folder) and project/sub.lnk (its symlink to
# ~/.ssh) as fast as it can, while the human shares project/sub again and again.
@test "a process the agent left running cannot make mount add share ~/.ssh by swapping the source" {
	as_human au mount add --rw project
	run --separate-stderr as_human au run --no-login -- ln -s "$home/.ssh" project/sub.lnk
	assert_success
	build_exchanger
	agent_keeps_running "$tools_dir/xchg" /home/agent/project sub sub.lnk

	# Without the defence: check the path for symlinks, then resolve it (the old way).
	local i won=
	for ((i = 0; i < 500; i++)); do
		if [[ ! -L $home/project/sub ]] && [[ $(realpath "$home/project/sub") == "$home/.ssh" ]]; then
			won=1
			break
		fi
	done
	[[ -n $won ]] || fail "the swap never showed ~/.ssh to realpath"

	local before round
	before=$(ssh_state)
	# (Not "i": bats' run changes a variable of that name.)
	for ((round = 0; round < 20; round++)); do
		run --separate-stderr as_human au mount add --rw project/sub /home/agent/sub
		if ((status == 0)); then
			run --separate-stderr as_human au mount remove /home/agent/sub
		fi
		run grep -F ".ssh" "$(human_config)"
		assert_failure
	done
	pgrep -u agent -f xchg >/dev/null || fail "the agent's swapper stopped: no race"
	run getfacl -R --absolute-names --skip-base "$home/.ssh"
	assert_output ""
	assert_equal "$(ssh_state)" "$before"
}

# A symlink of the human's own (here to ~/Documents) that the agent moved, inside the
# share, to the name the human is about to share.
@test "a symlink of the human's that the agent moved into the source path is refused" {
	as_human sh -c 'mkdir Documents && echo taxes >Documents/taxes && ln -s ../Documents project/docs'
	as_human au mount add --rw project
	run --separate-stderr as_human au run --no-login -- sh -c 'rmdir project/sub && mv project/docs project/sub'
	assert_success
	assert [ "$(stat -c %U "$home/project/sub")" = "$AU_HUMAN" ]

	# Without the defence: the human's own symlink, so an owner check passes, and resolved
	# it is a folder of the human's in her home.
	assert_equal "$(realpath "$home/project/sub")" "$home/Documents"

	local sum_before
	sum_before=$(sha256sum "$(human_config)")
	run --separate-stderr as_human au mount add --rw project/sub /home/agent/sub
	assert_failure 1
	assert_regex "$stderr" "^au: '$home/project/sub' is a symlink in a folder the agent can write"
	assert_equal "$(sha256sum "$(human_config)")" "$sum_before"
	run getfacl -R --absolute-names --skip-base "$home/Documents"
	assert_output ""
}

# The human's own symlink, outside any share, that leads through a folder of the agent's.
@test "a symlink of the human's that leads through a folder of the agent's is refused" {
	as_human au mount add --rw project
	run --separate-stderr as_human au run --no-login -- sh -c 'mkdir project/agents && ln -s ../../.ssh project/agents/x'
	assert_success
	as_human ln -s project/agents/x keys

	# Without the defence: the link is the human's and ends in the human's folder.
	assert_equal "$(stat -c %U "$home/keys")" "$AU_HUMAN"
	assert_equal "$(realpath "$home/keys")" "$home/.ssh"

	run --separate-stderr as_human au mount add keys
	assert_failure 1
	assert_regex "$stderr" "^au: '$home/project/agents' is a folder of uid $(id -u agent) \\(the agent\\), not yours"
	run getfacl -R --absolute-names --skip-base "$home/.ssh"
	assert_output ""
}

@test "secrets and au's own config and state are never shared, whatever the path" {
	# Without the defence: a read-write ~/.config is au's config, for the agent to extend.
	as_human au mount add project
	as_human mkdir -p .config/nvim
	setfacl -m u:agent:x "$home"
	setfacl -R -m g:su-as-agent:rwx "$home/.config"
	as_agent "printf '[[agents.mounts]]\\nsource = \"$home/.ssh\"\\ntarget = \"/home/agent/keys\"\\nread_only = true\\n' >>'$(human_config)'"
	run --separate-stderr as_human au mount list
	assert_line "$home/.ssh -> /home/agent/keys [ro]"
	setfacl -b "$home"
	setfacl -R -b "$home/.config"
	as_human au mount remove /home/agent/keys || true

	local sum_before
	sum_before=$(sha256sum "$(human_config)")
	as_human sh -c 'mkdir -p .gnupg .local/state/au .aws dots/secret && ln -s dots/secret .password-store &&
		echo machine x >.netrc'
	run --separate-stderr as_human au mount add --rw .ssh
	assert_failure 1
	assert_regex "$stderr" "^au: refusing to share '$home/.ssh': it holds your SSH keys$"
	run --separate-stderr as_human au mount add .ssh/id_ed25519
	assert_regex "$stderr" "it is inside '$home/.ssh', which holds your SSH keys"
	run --separate-stderr as_human au mount add --rw .config
	assert_failure 1
	assert_regex "$stderr" "'$(human_config)' inside it holds au's config"
	run --separate-stderr as_human au mount add --rw .local
	assert_regex "$stderr" "'$home/.local/state/au' inside it holds au's own state"
	run --separate-stderr as_human au mount add .gnupg
	assert_regex "$stderr" "it holds your GnuPG keys"
	run --separate-stderr as_human au mount add .netrc
	assert_regex "$stderr" "your .netrc passwords"
	# Where a symlink of the human's puts a secret, the folder holding it is refused too.
	run --separate-stderr as_human au mount add --rw dots
	assert_failure 1
	assert_regex "$stderr" "'$home/dots/secret' inside it holds your passwords"
	assert_equal "$(sha256sum "$(human_config)")" "$sum_before"
	run getfacl -R --absolute-names --skip-base "$home/.ssh" "$home/.config" "$home/dots"
	assert_output ""
	# An ordinary folder of ~/.config is fine.
	run --separate-stderr as_human au mount add .config/nvim
	assert_success
}

# The agent rebuilds a shared folder's path (here from inside a read-write share) with
# another folder of the human's: au run must refuse it, not mount it.
@test "a source that is no longer the inode that was shared is refused, with the command that fixes it" {
	as_human sh -c 'mkdir -p project/sub/docs project/private && echo mine >project/private/notes'
	as_human au mount add --rw project
	as_human au mount add project/sub/docs /home/agent/docs
	run --separate-stderr as_human au run --no-login -- sh -c 'mv project/sub/docs project/sub/docs.old && mv project/private project/sub/docs'
	assert_success

	# Without the defence: a bind by path mounts whatever is at the path now.
	run unshare --mount sh -c "mount --bind '$home/project/sub/docs' /mnt && cat /mnt/notes"
	assert_success
	assert_output mine

	run --separate-stderr as_human au run --no-login -- cat /home/agent/docs/notes
	assert_failure 125
	refute_output mine
	assert_regex "$stderr" "mount source '$home/project/sub/docs' is not the folder that was shared"
	assert_regex "$stderr" "run: au mount remove '$home/project/sub/docs' && au mount add '$home/project/sub/docs' '/home/agent/docs'"

	# The command it gives records the folder there now, when it is the one the human means.
	run --separate-stderr as_human au mount remove "$home/project/sub/docs"
	assert_success
	run --separate-stderr as_human au mount add "$home/project/sub/docs" /home/agent/docs
	assert_success
	run --separate-stderr as_human au run --no-login -- cat /home/agent/docs/notes
	assert_success
	assert_output mine
}

@test "a share recorded without its inode (reference tool, older au) is not mounted until it is added again" {
	as_human au mount add project
	as_human sed -i '/^source_device\|^source_inode/d' "$(human_config)"

	run --separate-stderr as_human au run --no-login -- ls /home/agent/project
	assert_failure 1
	assert_regex "$stderr" "the share '$home/project' of agent 'agent' has no recorded device and inode"
	assert_regex "$stderr" "hint: .*au mount remove -a agent $home/project && au mount add -a agent $home/project /home/agent/project"
}
