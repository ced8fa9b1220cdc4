# net.bash: what the network tests share (load helpers first). Every destination comes
# from this machine's configuration, never from the tests: the npm registry from npm's,
# a Debian mirror from apt's sources.

# The npm registry's URL, as npm is configured here.
npm_registry() {
	local url
	url=$(npm config get registry 2>/dev/null) || return 1
	[[ $url == http*://* ]] || return 1
	echo "${url%/}"
}

# The first http(s) mirror in apt's sources (deb822 .sources or one-line .list).
debian_mirror() {
	local url
	url=$(
		{
			grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | sed 's/^URIs:[[:space:]]*//' | tr ' ' '\n'
			grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
				sed 's/\[[^]]*\]//' | awk '{ print $2 }'
		} | grep -m1 -E '^https?://'
	) || return 1
	echo "${url%/}"
}

# host_of URL: its host name.
host_of() {
	local rest=${1#*://}
	rest=${rest%%/*}
	echo "${rest%%:*}"
}

# A file of the mirror that exists: its Release file, for the suite apt uses.
debian_mirror_file() {
	local mirror suite
	mirror=$(debian_mirror) || return 1
	suite=$(
		{
			grep -hs '^Suites:' /etc/apt/sources.list.d/*.sources | sed 's/^Suites:[[:space:]]*//' | tr ' ' '\n'
			grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
				sed 's/\[[^]]*\]//' | awk '{ print $3 }'
		} | grep -m1 .
	) || return 1
	echo "$mirror/dists/$suite/Release"
}

# Both destinations must answer from here, or the test cannot say anything.
require_destinations() {
	REGISTRY=$(npm_registry) || fail "npm has no registry configured (npm config get registry)"
	MIRROR_FILE=$(debian_mirror_file) || fail "apt has no http mirror in its sources"
	REGISTRY_HOST=$(host_of "$REGISTRY")
	MIRROR_HOST=$(host_of "$MIRROR_FILE")
	curl -sS -o /dev/null --max-time 30 "$REGISTRY/" || fail "the npm registry $REGISTRY does not answer from here"
	curl -sS -o /dev/null --max-time 30 "$MIRROR_FILE" || fail "the Debian mirror $MIRROR_FILE does not answer from here"
}

# A free TCP port on the host's loopback.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# human_server PORT: an HTTP server of the human's on the host's 127.0.0.1:PORT that
# answers "the human's server"; its pid in $BATS_TEST_TMPDIR/server.pid.
human_server() {
	local port=$1 dir i
	# A folder the human can read (bats's own are root's).
	dir=$(mktemp -d /tmp/au-test-www.XXXXXX)
	echo "$dir" >"$BATS_TEST_TMPDIR/www"
	echo "the human's server" >"$dir/index.html"
	chmod -R a+rX "$dir"
	su "$AU_HUMAN" -s /bin/sh -c "exec /usr/bin/python3 -m http.server --bind 127.0.0.1 --directory '$dir' $port" \
		</dev/null >/dev/null 2>&1 3>&- &
	echo $! >"$BATS_TEST_TMPDIR/server.pid"
	for ((i = 0; i < 100; i++)); do
		curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
		sleep 0.1
	done
	fail "the human's server on port $port did not start"
}

# human_abstract_socket NAME: the human listens on the abstract unix socket @NAME and
# says "the human's socket" to whoever connects.
human_abstract_socket() {
	local name=$1 i
	su "$AU_HUMAN" -s /bin/sh -c "exec /usr/bin/python3 -c '
import socket
s = socket.socket(socket.AF_UNIX)
s.bind(\"\\0$name\")
s.listen()
while True:
    c, _ = s.accept()
    c.sendall(b\"the human'\"'\"'s socket\\n\")
    c.close()
'" </dev/null >/dev/null 2>&1 3>&- &
	echo $! >"$BATS_TEST_TMPDIR/abstract.pid"
	for ((i = 0; i < 100; i++)); do
		grep -q "@$name\$" /proc/net/unix && return 0
		sleep 0.1
	done
	fail "the human's abstract socket @$name did not appear"
}

# A python line that connects to the abstract socket @NAME and prints what it says.
abstract_client() {
	echo "import socket; s = socket.socket(socket.AF_UNIX); s.connect(b'\\0$1'); print(s.recv(100).decode().strip())"
}

stop_servers() {
	local f
	[[ -f $BATS_TEST_TMPDIR/www ]] && rm -rf "$(cat "$BATS_TEST_TMPDIR/www")" "$BATS_TEST_TMPDIR/www"
	for f in "$BATS_TEST_TMPDIR"/server.pid "$BATS_TEST_TMPDIR"/abstract.pid; do
		[[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null
		rm -f "$f"
	done
	return 0
}

# The agent's connection log, as stored (JSON lines).
net_log_json() {
	as_human au net log --json "$@"
}

# assert_logged JQ-CONDITION: some record of the log matches.
assert_logged() {
	local log
	log=$(net_log_json)
	if ! jq -e -s "any(.[]; $1)" >/dev/null <<<"$log"; then
		echo "no record matches: $1" >&2
		echo "$log" >&2
		return 1
	fi
}
