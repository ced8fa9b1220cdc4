#!/usr/bin/env bats
# "au mount remove" always removes: no tree of the agent's, however deep or wide, stops
# the walk that takes the ACL entries back, and the share leaves the config even when some
# entries cannot be taken back, with the command that finishes the job. Each test first
# shows the trap with plain setfacl.

load shares

setup() {
	shares_setup
}

teardown() {
	shares_teardown
}

# python3 as the agent, in the share: a chain of folders DEPTH deep with the human's file
# moved to the bottom (no path to it fits PATH_MAX).
bury_file_deep() {
	run --separate-stderr as_human au run --no-login -- python3 -c '
import os, sys
depth = int(sys.argv[1])
fd = os.open("project", os.O_RDONLY | os.O_DIRECTORY)
os.mkdir("deep", dir_fd=fd)
cur = os.open("deep", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
for i in range(depth):
    os.mkdir("d", dir_fd=cur)
    nxt = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=cur)
    os.close(cur)
    cur = nxt
os.rename("file", "file", src_dir_fd=fd, dst_dir_fd=cur)
' "$1"
	assert_success
}

# The agent's group entries on the buried file, read by fds: "none" when there are none.
buried_entries() {
	python3 -c '
import os, sys
fd = os.open(sys.argv[1] + "/project/deep", os.O_RDONLY | os.O_DIRECTORY)
while True:
    try:
        nxt = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    except FileNotFoundError:
        break
    os.close(fd)
    fd = nxt
f = os.open("file", os.O_RDONLY, dir_fd=fd)
try:
    acl = os.getxattr(f, "system.posix_acl_access")
except OSError:
    print("none")
    sys.exit(0)
# {le16 tag, le16 perm, le32 id} after a 4-byte header; 8 is a named group.
import struct, grp
gid = grp.getgrnam("su-as-agent").gr_gid
found = [p for t, p, i in struct.iter_unpack("<HHI", acl[4:]) if t == 8 and i == gid]
print("none" if not found else "group:su-as-agent:%o" % found[0])
' "$home"
}

@test "a tree deeper than any limit does not stop mount remove" {
	as_human au mount add --rw project
	bury_file_deep 6000
	run buried_entries
	assert_output "group:su-as-agent:7"

	# Without the defence: setfacl -R cannot take the entry back at that depth.
	run as_human setfacl -R -x g:su-as-agent "$home/project"
	assert_failure
	run buried_entries
	assert_output "group:su-as-agent:7"

	run --separate-stderr as_human au mount remove project
	assert_success
	run buried_entries
	assert_output "none"
	run --separate-stderr as_human au mount list
	assert_output "No mounts for agent agent."
}

@test "a wide tree does not stop mount remove" {
	as_human au mount add --rw project
	run --separate-stderr as_human au run --no-login -- sh -c \
		'cd project && mkdir wide && cd wide && seq -f f%06g 1 30000 | xargs touch && mv ../file .'
	assert_success

	run --separate-stderr as_human au mount remove project
	assert_success
	run getfacl --absolute-names --skip-base "$home/project/wide/file"
	assert_output ""
}

# The agent moves the human's file into a folder of its own that the human cannot read.
@test "the share leaves the config when entries cannot be taken back, and au prints the command that finishes" {
	as_human au mount add --rw project
	run --separate-stderr as_human au run --no-login -- sh -c 'mkdir project/hide && mv project/file project/hide/ && chmod 700 project/hide'
	assert_success

	# Without the defence: setfacl -R, as the human, cannot get there.
	run as_human setfacl -R -x g:su-as-agent,d:g:su-as-agent "$home/project"
	assert_failure
	assert_output --partial "Permission denied"
	run group_entries "$home/project/hide/file"
	assert_output "group:su-as-agent:rwx"

	run --separate-stderr as_human au mount remove project
	assert_failure 1
	assert_line "Removed agent read-write access to $home/project (was mounted at /home/agent/project)"
	assert_regex "$stderr" "1 folder of others in '$home/project' could not be read"
	assert_regex "$stderr" "hint: not read: '$home/project/hide'"
	local said=$stderr finish
	run --separate-stderr as_human au mount list
	assert_output "No mounts for agent agent."

	# The command it gives finishes the job.
	finish=$(grep -E '^hint:   sudo setfacl' <<<"$said" | sed 's/^hint:   //')
	[[ -n $finish ]] || fail "no command in: $said"
	as_human sh -c "$finish"
	run group_entries "$home/project/hide/file"
	assert_output ""
}

@test "mount remove of a source that was moved away says where to look, and still removes" {
	as_human au mount add --rw project
	as_human mv project moved

	run --separate-stderr as_human au mount remove project
	assert_failure 1
	assert_regex "$stderr" "'$home/project' is gone: its ACL entries were not taken back"
	assert_regex "$stderr" "find it with: find ~ -xdev -inum [0-9]+ -type d"
	run --separate-stderr as_human au mount list
	assert_output "No mounts for agent agent."
}
