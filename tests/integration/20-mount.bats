#!/usr/bin/env bats
# au mount add|remove|list, as the human meets it: what is printed and recorded, what the
# agent then sees and may write (and what it may not), where au run starts, and the
# refusals, which must change nothing.

load helpers

setup() {
	require_world
	fresh_config
	home=$(human_home)
	run --separate-stderr as_human au new --yes
	assert_success
	as_human mkdir -p project/sub
	as_human sh -c 'echo hello >project/file'
}

# as_human_in DIR CMD...: run CMD as the human from DIR, as they would after a cd.
as_human_in() {
	local dir=$1
	shift
	su - "$AU_HUMAN" -c "cd $(printf '%q' "$dir") && $(printf '%q ' "$@")" </dev/null
}

# The human's files below DIR that still carry an extended ACL (named entries, a mask or
# a default ACL); the agent's own files are not hers to clean.
extended_acls_of_human() {
	find "$1" -user "$AU_HUMAN" -exec getfacl --absolute-names --skip-base {} +
}

@test "au mount list without mounts says so" {
	run --separate-stderr as_human au mount list
	assert_success
	assert_output "No mounts for agent agent."
}

@test "au mount add shares a folder read-only and au mount list shows it" {
	run --separate-stderr as_human au mount add project
	assert_success
	assert_line "Added agent read-only access to $home/project (mounted at /home/agent/project)"

	run --separate-stderr as_human au mount list
	assert_success
	assert_output "$home/project -> /home/agent/project [ro]"
}

@test "au mount add --rw shares a folder read-write and au mount list shows it with the protected paths" {
	run --separate-stderr as_human au mount add --rw project
	assert_success
	assert_line "Added agent read-write access to $home/project (mounted at /home/agent/project)"

	run --separate-stderr as_human au mount list
	assert_success
	assert_line --index 0 "$home/project -> /home/agent/project [rw]"
	assert_line --index 1 --regexp '^Read-only for the agent .*: .*\.git/hooks .*\.git/config .*\.envrc .*\.vscode'
}

@test "au mount add with an explicit TARGET mounts the folder there" {
	run --separate-stderr as_human au mount add project /home/agent/work/proj
	assert_success
	assert_line "Added agent read-only access to $home/project (mounted at /home/agent/work/proj)"

	run --separate-stderr as_human au mount list
	assert_output "$home/project -> /home/agent/work/proj [ro]"
	run --separate-stderr as_human au run cat /home/agent/work/proj/file
	assert_success
	assert_output hello
}

@test "the agent reads and writes a read-write mount" {
	as_human au mount add --rw project

	run --separate-stderr as_human au run sh -c 'cat project/file && echo from-agent >project/new'
	assert_success
	assert_output hello
	assert_equal "$(cat "$home/project/new")" from-agent
}

@test "a read-write mount gives the agent's group rwx, default entries and setgid on folders" {
	as_human au mount add --rw project

	local path
	for path in project project/sub; do
		run getfacl --omit-header "$home/$path"
		assert_line "group:su-as-agent:rwx"
		assert_line "default:group:su-as-agent:rwx"
		run stat -c '%A' "$home/$path"
		assert_output --regexp '^d.....s'
	done
	run getfacl --omit-header "$home/project/file"
	assert_line "group:su-as-agent:rwx"
}

@test "the human edits the agent's new file, and the agent edits the human's new files" {
	as_human au mount add --rw project
	as_human au run sh -c 'echo agent >project/by-agent && mkdir project/agent-dir'
	as_human sh -c 'echo human >project/by-human && mkdir project/human-dir &&
		echo human >project/human-dir/deep'

	run as_human sh -c 'echo human-too >>project/by-agent && echo human >project/agent-dir/x'
	assert_success
	run --separate-stderr as_human au run sh -c \
		'echo agent-too >>project/by-human && echo agent-too >>project/human-dir/deep &&
		 echo agent >project/human-dir/y'
	assert_success

	assert_equal "$(cat "$home/project/by-agent")" $'agent\nhuman-too'
	assert_equal "$(cat "$home/project/by-human")" $'human\nagent-too'
	assert_equal "$(cat "$home/project/human-dir/deep")" $'human\nagent-too'
	run getfacl --omit-header "$home/project/by-human"
	assert_line --regexp '^group:su-as-agent:rwx'
	run getfacl --omit-header "$home/project/human-dir"
	assert_line "default:group:su-as-agent:rwx"
}

@test "the agent cannot write a read-only mount" {
	as_human au mount add project

	run --separate-stderr as_human au run sh -c 'echo x >project/new'
	assert_failure
	assert_regex "$stderr" 'Read-only file system'
	assert [ ! -e "$home/project/new" ]
	run --separate-stderr as_human au run sh -c 'echo x >>project/file'
	assert_failure
	assert_equal "$(cat "$home/project/file")" hello
}

@test "every mount the agent sees is nosuid and nodev" {
	as_human sh -c 'mkdir ro && git init -q project'
	as_human au mount add --rw project
	as_human au mount add ro

	run --separate-stderr as_human au run cat /proc/self/mountinfo
	assert_success
	local line mountpoint options count=0
	while IFS= read -r line; do
		mountpoint=$(cut -d' ' -f5 <<<"$line")
		options=$(cut -d' ' -f6 <<<"$line")
		[[ $mountpoint == /home/agent/* ]] || continue
		count=$((count + 1))
		assert_regex "$options" '(^|,)nosuid(,|$)'
		assert_regex "$options" '(^|,)nodev(,|$)'
	done <<<"$output"
	# project, ro, and the protected .git/hooks and .git/config.
	((count >= 4)) || fail "only $count mounts below /home/agent in:"$'\n'"$output"
}

# A git repository with every kind of protected path, at DIR below the human's home.
make_repo() {
	as_human git init -q "$1"
	as_human sh -c "mkdir $1/.vscode && echo '{}' >$1/.vscode/settings.json && echo 'export A=1' >$1/.envrc"
}

@test "protected paths of a git repository stay read-only for the agent, the rest of .git does not" {
	make_repo project
	as_human au mount add --rw project

	local path
	for path in .git/hooks/pre-commit .git/config .envrc .vscode/settings.json; do
		run --separate-stderr as_human au run sh -c "echo evil >>project/$path"
		assert_failure
		assert_regex "$stderr" 'Read-only file system'
		run grep -qr evil "$home/project/$path"
		assert_failure
	done

	# Objects and refs: the agent can still commit.
	run --separate-stderr as_human au run sh -c 'cd project && echo a >a.txt && git add a.txt &&
		git -c user.name=Agent -c user.email=agent@example.invalid commit -qm by-agent'
	assert_success
	run as_human git -C project log --format=%an:%s
	assert_output "Agent:by-agent"
}

@test "protected paths of a nested repository deeper in the tree stay read-only too" {
	as_human mkdir -p project/sub/deep
	make_repo project/sub/deep/inner
	as_human au mount add --rw project

	local path
	for path in .git/hooks/pre-commit .git/config .envrc .vscode/settings.json; do
		run --separate-stderr as_human au run sh -c "echo evil >>project/sub/deep/inner/$path"
		assert_failure
		assert_regex "$stderr" 'Read-only file system'
	done
	run grep -rl evil "$home/project"
	assert_output ""
	# The rest of the tree stays writable.
	run --separate-stderr as_human au run sh -c 'echo ok >project/sub/deep/inner/ok'
	assert_success
}

@test "au mount list names the protected paths" {
	as_human au mount add --rw project

	run --separate-stderr as_human au mount list
	local path
	for path in .git/hooks .git/config .envrc .vscode; do
		assert_output --partial " $path"
	done
}

@test "au run started in a subfolder of a mount starts in the same place below the target" {
	as_human au mount add --rw project

	run --separate-stderr as_human_in "$home/project/sub" au run pwd
	assert_success
	assert_output /home/agent/project/sub
}

@test "au run started through the human's symlink to a mounted folder starts below the target" {
	as_human au mount add project
	as_human ln -s project/sub shortcut

	run --separate-stderr as_human_in "$home/shortcut" au run pwd
	assert_success
	assert_output /home/agent/project/sub
}

@test "au run started outside any mount starts in the agent's home" {
	as_human au mount add project
	as_human mkdir elsewhere

	run --separate-stderr as_human_in "$home/elsewhere" au run pwd
	assert_success
	assert_output /home/agent
}

# --- refusals: each with a message, exit 1 (2 for usage), and nothing changed -------------

# refused STATUS REGEX ARGS...: au mount add ARGS fails with STATUS and a message matching
# REGEX, and leaves the config and the ACLs in the human's home as they were.
refused() {
	local want_status=$1 regex=$2 sum_before
	shift 2
	sum_before=$(sha256sum "$(human_config)")

	run --separate-stderr as_human au mount add "$@"
	assert_failure "$want_status"
	assert_output ""
	assert_regex "$stderr" "$regex"
	assert_equal "$(sha256sum "$(human_config)")" "$sum_before"
	run getfacl -R --absolute-names --skip-base "$home"
	assert_output ""
}

@test "au mount add refuses a source outside the home" {
	refused 1 "^au: '/etc' is not inside your home" --rw /etc
	run getfacl --absolute-names --skip-base /etc
	assert_output ""

	as_human mkdir /tmp/x
	refused 1 "^au: '/tmp/x' is not inside your home" --rw /tmp/x
	run getfacl --absolute-names --skip-base /tmp/x
	assert_output ""
}

@test "au mount add refuses the home itself" {
	refused 1 "^au: '$home' is your home itself" --rw "$home"
	refused 1 "^au: '$home' is your home itself" --rw .
}

@test "au mount add refuses a target outside the agent's home" {
	refused 1 "^au: '/etc/project' is not inside the agent's home" --rw project /etc/project
	refused 1 "^au: '/home/alice-project' is not inside the agent's home" --rw project /home/alice-project
}

@test "au mount add refuses a target escaping the agent's home with .." {
	refused 1 "^au: '/etc' is not inside the agent's home" --rw project /home/agent/../../etc
	refused 1 "^au: '$home/project' is not inside the agent's home" \
		--rw project /home/agent/../alice/project
}

@test "au mount add refuses the agent's home itself as target" {
	refused 1 "^au: '/home/agent' is the agent's home itself" --rw project /home/agent
	refused 1 "^au: '/home/agent' is the agent's home itself" --rw project /home/agent/x/..
}

@test "au mount add refuses a relative target as a usage error" {
	refused 2 "^au: .*TARGET must be an absolute path" --rw project agent/project
}

@test "au mount add refuses a source that is already shared" {
	as_human au mount add project
	refused 1 "^au: '$home/project' is already shared" --rw project /home/agent/other
}

@test "au mount add refuses a target that is already used" {
	as_human mkdir other
	as_human au mount add project
	refused 1 "^au: '/home/agent/project' is already a mount target" --rw other /home/agent/project
}

@test "au mount add refuses a missing source" {
	refused 1 "^au: cannot use 'missing': No such file or directory" --rw missing
}

@test "au mount add refuses a folder of the home that the human does not own" {
	install -d -o root -g root -m 0755 "$home/roots"
	refused 1 "^au: '$home/roots' is not owned by you" --rw roots
	run getfacl --absolute-names --skip-base "$home/roots"
	assert_output ""
}

# --- remove --------------------------------------------------------------------------

@test "au mount remove by source takes the ACLs back and the agent no longer sees the folder" {
	as_human mkdir -p project/sub/deeper
	as_human touch project/sub/deeper/f
	as_human au mount add --rw project
	as_human au run sh -c 'echo agent >project/by-agent'
	as_human touch project/sub/after-grant

	run --separate-stderr as_human au mount remove project
	assert_success
	assert_line "Removed agent read-write access to $home/project (was mounted at /home/agent/project)"

	run extended_acls_of_human "$home/project"
	assert_output ""
	run --separate-stderr as_human au mount list
	assert_output "No mounts for agent agent."
	run --separate-stderr as_human au run cat project/file
	assert_failure
}

@test "au mount remove by target takes the ACLs back and the agent no longer sees the folder" {
	as_human au mount add --rw project

	run --separate-stderr as_human au mount remove /home/agent/project
	assert_success
	assert_line "Removed agent read-write access to $home/project (was mounted at /home/agent/project)"

	run extended_acls_of_human "$home/project"
	assert_output ""
	run --separate-stderr as_human au run cat project/file
	assert_failure
}

@test "au mount remove of a read-only mount says so" {
	as_human au mount add project

	run --separate-stderr as_human au mount remove project
	assert_success
	assert_line "Removed agent read-only access to $home/project (was mounted at /home/agent/project)"
}

@test "au mount remove of something not shared fails and changes nothing" {
	as_human au mount add --rw project
	local sum_before
	sum_before=$(sha256sum "$(human_config)")

	run --separate-stderr as_human au mount remove sub
	assert_failure 1
	assert_regex "$stderr" "has no mount with source or target '$home/sub'"
	assert_equal "$(sha256sum "$(human_config)")" "$sum_before"
	run getfacl --omit-header "$home/project"
	assert_line "group:su-as-agent:rwx"
}

# --- git safe.directory --------------------------------------------------------------

@test "a read-write mount is a git safe.directory of the agent until it is removed" {
	as_human au mount add --rw project

	run --separate-stderr as_human au run git config --get-all safe.directory
	assert_success
	assert_line /home/agent/project

	as_human au mount remove project
	run --separate-stderr as_human au run git config --get-all safe.directory
	refute_output --partial /home/agent/project
}
