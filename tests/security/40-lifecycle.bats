#!/usr/bin/env bats
# What a deleted or imported agent leaves behind, against whoever comes next: a new user
# that gets the old uid, a new group that gets the old gid, and the agent itself while an
# old setuid entrypoint of the reference tool is still in its home. Each test first shows
# the hazard with plain tools (userdel, groupdel, useradd, groupadd), then that au leaves
# none of it.

load ../integration/helpers

setup() {
	require_world
	fresh_config
	home=$(human_home)
}

teardown() {
	world_teardown
	rm -rf --one-file-system /home/agent /home/bob
}

new_agent() {
	local out
	out=$(as_human au new --yes "$@" 2>&1) || fail "au new failed: $out"
}

# as_user NAME CMD: the shell command CMD as user NAME, outside any au run.
as_user() {
	su "$1" -s /bin/sh -c "$2" </dev/null
}

# The agent's secret, where Codex keeps its sign-in.
plant_secret() {
	as_user agent 'mkdir -p ~/.codex && umask 077 && echo "token-of-agent" >~/.codex/auth.json'
}

@test "a new user who gets a deleted agent's uid cannot read the home au delete kept" {
	# The hazard, with plain tools: userdel keeps the home, useradd hands the uid out again.
	useradd --create-home olduser
	as_user olduser 'umask 077 && echo secret >~/secret'
	local old_uid
	old_uid=$(id -u olduser)
	userdel olduser
	useradd --no-create-home newuser
	assert_equal "$(id -u newuser)" "$old_uid"
	run as_user newuser 'cat /home/olduser/secret'
	assert_success
	assert_output secret
	userdel newuser
	rm -rf /home/olduser

	# Against au: delete without --delete-home, and the next agent gets the same uid.
	new_agent
	plant_secret
	# Agents keep session files in the shared /tmp too (Claude Code does).
	as_user agent 'umask 077 && echo "session-of-agent" >/tmp/au-test-agent-session'
	local uid
	uid=$(id -u agent)
	run --separate-stderr as_human au delete --yes
	assert_success
	assert_line --partial "Kept the home '/home/agent' with the agent's files, now root's alone (mode 0700)"
	assert_line --partial "sudo rm -rf -- /home/agent"
	new_agent -a bob
	assert_equal "$(id -u bob)" "$uid"
	run as_user bob 'cat /home/agent/.codex/auth.json'
	assert_failure
	refute_output --partial token-of-agent
	assert_equal "$(stat -c '%U %a' /home/agent)" "root 700"
	# The files are all still there, for root.
	assert_equal "$(cat /home/agent/.codex/auth.json)" "token-of-agent"
	# What it left in /tmp went with it.
	assert [ ! -e /tmp/au-test-agent-session ]
}

@test "a user who got the uid of an agent removed by hand keeps its processes and files through au delete" {
	new_agent
	local uid
	uid=$(id -u agent)
	userdel agent
	useradd --uid "$uid" --no-create-home carol
	as_user carol 'echo mine >/tmp/au-test-carol'
	setsid su carol -s /bin/sh -c 'exec sleep 300' </dev/null >/dev/null 2>&1 &
	wait_for_carol() {
		pgrep -u carol -x sleep >/dev/null
	}
	local tries=50
	until wait_for_carol || ((tries-- == 0)); do sleep 0.1; done

	run --separate-stderr as_human au delete --yes
	assert_success
	assert_regex "$stderr" "uid $uid of agent 'agent' now belongs to user 'carol': leaving that user's processes and files alone"
	refute_output --partial "pkill"
	refute_output --partial "find /tmp"
	# The old agent's home does not go to carol either.
	assert_equal "$(stat -c '%U %a' /home/agent)" "root 700"
	run pgrep -u carol -x sleep
	assert_success
	assert [ -e /tmp/au-test-carol ]
	pkill -KILL -u carol || true
	rm -f /tmp/au-test-carol
}

@test "a new group that gets a deleted agent's gid inherits no access to the human's files, even with the group gone first" {
	new_agent
	as_human mkdir -p project/sub
	as_human sh -c 'echo mine >project/sub/file'
	as_human au mount add --rw project >/dev/null
	local gid
	gid=$(getent group su-as-agent | cut -d: -f3)

	# The hazard: the group goes by hand, its entries stay, a new group gets the gid.
	groupdel --force su-as-agent
	groupadd --gid "$gid" intruders
	run getfacl --absolute-names "$home/project/sub/file"
	assert_line "group:intruders:rwx"
	groupdel --force intruders

	# Against au: the entries go by number, although the name is gone.
	run --separate-stderr as_human au delete --yes
	assert_success
	assert_line "group 'su-as-agent' does not exist, skipping"
	assert_line --partial "Removing group 'su-as-agent' (gid $gid) access from $home/project"
	run getfacl --absolute-names --numeric -R "$home/project"
	refute_output --partial "group:$gid:"
	groupadd --gid "$gid" intruders
	run getfacl --absolute-names -R "$home/project"
	refute_output --partial intruders
}

@test "an entry from before au recorded gids, with its group gone, still gives up its ACL entries" {
	new_agent
	as_human mkdir -p project
	as_human sh -c 'echo mine >project/file'
	as_human au mount add --rw project >/dev/null
	local gid
	gid=$(getent group su-as-agent | cut -d: -f3)
	# An older au: no uid and gid in the entry. Then the group goes by hand.
	sed -i -e '/^uid = /d' -e '/^gid = /d' "$(human_config)"
	groupdel --force su-as-agent
	run getfacl --absolute-names --numeric "$home/project/file"
	assert_line "group:$gid:rwx"

	run --separate-stderr as_human au delete --yes
	assert_success
	run getfacl --absolute-names --numeric -R "$home/project"
	refute_output --partial "group:$gid:"
}

@test "au delete never removes the group while ACL entries naming it remain, and finishes when run again" {
	new_agent
	as_human mkdir -p project/locked
	as_human au mount add --rw project >/dev/null
	# A folder the walk cannot read: its entries cannot be taken back.
	as_human chmod 000 project/locked

	run --separate-stderr as_human au delete --yes
	assert_failure 1
	assert_regex "$stderr" "cannot read directory '$home/project/locked'"
	assert_regex "$stderr" "agent 'agent' was not completely deleted: its access to your files could not all be taken back"
	assert_regex "$stderr" "run 'au delete -a agent' again to finish"
	refute_output --partial "userdel"
	refute_output --partial "groupdel"
	refute_output --partial "Deleted agent"
	run getent group su-as-agent
	assert_success
	run --separate-stderr as_human au list
	assert_output "agent (default)"

	as_human chmod 755 project/locked
	run --separate-stderr as_human au delete --yes
	assert_success
	assert_line "Deleted agent agent"
	run getfacl --absolute-names --skip-base -R "$home/project"
	assert_output ""
}

@test "a user of the agent's name made again by someone else is not run as, nor deleted by au delete" {
	new_agent
	local uid
	uid=$(id -u agent)
	userdel agent
	useradd --uid $((uid + 100)) --no-create-home --gid su-as-agent agent

	# The entrypoint would switch to the old uid, whoever has it now.
	run --separate-stderr as_human au run --no-login id -u
	assert_failure 1
	assert_regex "$stderr" "refusing to run agent 'agent': user 'agent' now has uid $((uid + 100)), but the agent was made with uid $uid"
	run --separate-stderr as_human au info
	assert_failure 1
	assert_line --regexp "broken +user 'agent' now has uid $((uid + 100)), but the agent was made with uid $uid: it is another user"

	run --separate-stderr as_human au delete --yes
	assert_regex "$stderr" "user 'agent' now has uid $((uid + 100)), but the agent was made with uid $uid: it is another user"
	run getent passwd agent
	assert_success
}

@test "an agent made by agent-as-unix-user loses the setuid entrypoint in its home to au repair" {
	new_agent
	local ep=/home/agent/.config/agent-as-unix-user/su_as_agent
	# The reference tool's layout: a setuid-root entrypoint in the agent's home, runnable
	# by the group, without a caller check. A setuid copy of id stands for it.
	install -d -o agent -g su-as-agent -m 2770 /home/agent/.config /home/agent/.config/agent-as-unix-user
	install -o root -g su-as-agent -m 4750 /usr/bin/id "$ep"
	local sha
	sha=$(sha256sum "$ep" | cut -d' ' -f1)
	sed -i -e "s|^entrypoint = .*|entrypoint = \"$ep\"|" -e "s|^entrypoint_sha256 = .*|entrypoint_sha256 = \"$sha\"|" \
		-e '/^entrypoint_source_sha256 = /d' "$(human_config)"

	# The hazard: the agent runs it and is root.
	run as_user agent "$ep -u"
	assert_output 0

	run --separate-stderr as_human au repair --yes
	assert_success
	assert_line "Removed the old entrypoint '$ep'"
	assert [ ! -e "$ep" ]
	run grep -F "entrypoint = \"$AU_PREFIX/libexec/agent-as-unix-user/agent/su_as_agent\"" "$(human_config)"
	assert_success
	run --separate-stderr as_human au run --no-login id -un
	assert_success
	assert_output agent
	# The new one is the caller's alone.
	run as_user agent "$AU_PREFIX/libexec/agent-as-unix-user/agent/su_as_agent $SU_PROTOCOL -- id -u"
	assert_failure
	refute_output 0
}

@test "au delete of an agent made by agent-as-unix-user removes its setuid entrypoint too" {
	new_agent
	local ep=/home/agent/.config/agent-as-unix-user/su_as_agent
	install -d -o agent -g su-as-agent -m 2770 /home/agent/.config /home/agent/.config/agent-as-unix-user
	install -o root -g su-as-agent -m 4750 /usr/bin/id "$ep"
	sed -i -e "s|^entrypoint = .*|entrypoint = \"$ep\"|" "$(human_config)"

	run --separate-stderr as_human au delete --yes
	assert_success
	assert_line "Removed the old entrypoint '$ep'"
	assert [ ! -e "$ep" ]
}
