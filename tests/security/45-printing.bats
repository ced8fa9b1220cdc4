#!/usr/bin/env bats
# The agent names files and folders in a read-write share; the human's au prints paths.
# Every byte that could act on the human's terminal (escape sequences, C1 controls,
# carriage returns, newlines that fake a line of output) is escaped on its way out, by
# construction: die(), warn(), error(), hint() and stdout lines all go through one path.
# The test first shows plain tools printing such a name raw.

load shares

setup() {
	shares_setup
}

teardown() {
	shares_teardown
}

# raw_controls FILE: the offsets of bytes in FILE that a terminal would act on (C0 controls
# but newline, DEL, C1 controls as UTF-8 or raw, bidirectional overrides); nothing when clean.
raw_controls() {
	python3 -c '
import re, sys
data = open(sys.argv[1], "rb").read()
bad = re.compile(rb"[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]")
text = data.decode("utf-8", "surrogateescape")
for m in bad.finditer(data):
    print(m.start(), repr(m.group()))
# Lone bytes that are not UTF-8 at all (a raw 0x9b is CSI to some terminals).
for i, ch in enumerate(text):
    if "\udc80" <= ch <= "\udcff":
        print("invalid", hex(ord(ch) - 0xdc00))
' "$1"
}

@test "no raw control byte from a name the agent chose reaches the human's terminal" {
	as_human au mount add --rw project
	# Control bytes, a C1 CSI and a bidi override (valid UTF-8), and a raw 0x9b (not UTF-8).
	local evil=$'x\e]0;pwned\a\e[2J\r\nau: all good\xc2\x9b31m\xe2\x80\xaeY'
	local raw=$'r\x9b31m\e[5m'
	as_human mkdir "project/mine$evil" "project/mine$raw"
	run --separate-stderr as_human au run --no-login -- sh -c "mkdir -p 'project/$evil/deep' &&
		mkdir 'project/hide$evil' && touch 'project/hide$evil/f' && ln -s /etc 'project/link$evil' &&
		chmod 700 'project/hide$evil'"
	assert_success

	# Without the defence: plain tools print the name as it is.
	ls "$home/project" >"$BATS_TEST_TMPDIR/plain" 2>&1
	run raw_controls "$BATS_TEST_TMPDIR/plain"
	refute_output ""

	local out=$BATS_TEST_TMPDIR/out
	: >"$out"
	{
		# Messages that name the path: added, refused (symlink, agent's folder), removed, listed.
		as_human au mount add "project/mine$evil" "/home/agent/$evil"
		as_human au mount add "project/$evil"
		# Not UTF-8: the config could not hold it, and says so.
		as_human au mount add "project/mine$raw"
		as_human au mount add "project/link$evil/passwd"
		as_human au mount add "project/hide$evil"
		as_human au mount add "project/$evil/nope"
		as_human au mount list
		as_human au info
		as_human au mount remove "/home/agent/$evil"
		as_human au mount remove "project/$evil/nope"
		# The entrypoint names it too.
		as_human au run --no-login -d "/home/agent/project/$evil/missing" -- true
		# The revoke cannot read the agent's folder: its name is in the report.
		as_human au mount remove project
	} >>"$out" 2>&1 || true
	grep -q "hide" "$out" || fail "the names were never printed: $(cat "$out")"
	grep -q "is not valid UTF-8, which the config cannot hold" "$out" || fail "not refused: $(cat "$out")"
	# The config still loads.
	run --separate-stderr as_human au mount list
	assert_success
	run raw_controls "$out"
	assert_output ""
	# Escaped, not dropped: what the human reads still names the folder.
	run grep -c 'x\\x1b]0;pwned' "$out"
	refute_output 0
}
