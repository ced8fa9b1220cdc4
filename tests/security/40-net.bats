#!/usr/bin/env bats
# The agent against its network namespace and au's proxy: it tries to reach the proxy's
# process, to bind or sniff in the host's namespace, to open raw sockets, to smuggle a
# denied host through an allowed one (a CONNECT inside a CONNECT, an absolute URI with
# another Host, SNI that does not match), to hold the proxy's channel, and, having taken
# the proxy over, to write what it likes in the human's log. Each test first shows that
# the attack works where the defence is absent, then that it fails against au. The
# destinations come from this machine's configuration (tests/integration/net.bash).

load ../integration/helpers
load ../integration/net

PROXY=$AU_PREFIX/libexec/agent-as-unix-user/au-netproxy

setup() {
	require_world
	fresh_config
	local out
	out=$(as_human au new --yes 2>&1) || fail "au new failed: $out"
}

teardown() {
	stop_servers
	[[ -n ${BACKGROUND:-} ]] && kill "$BACKGROUND" 2>/dev/null
	[[ -f $PROXY.orig ]] && mv -f "$PROXY.orig" "$PROXY"
	if [[ -e $BATS_TEST_TMPDIR/resolv.conf ]]; then
		rm -f /etc/resolv.conf
		cp -a "$BATS_TEST_TMPDIR/resolv.conf" /etc/resolv.conf
		rm -rf /run/au-test-resolve
	fi
	world_teardown
}

# run_in_background CMD...: an au run of the human's that lasts; $BACKGROUND is its su.
run_in_background() {
	su - "$AU_HUMAN" -c "$(printf '%q ' "$@")" </dev/null >"$BATS_TEST_TMPDIR/bg.out" 2>&1 3>&- &
	BACKGROUND=$!
}

# The proxy starts on the agent's first use of its network: a command that uses it,
# and returns once the proxy has answered (a request that is not a proxy's, refused).
WAKE='curl -s -o /dev/null --max-time 20 http://127.0.0.1:3128/'

# The pid (in the host's PID namespace) of the agent's proxy, once it runs.
proxy_pid() {
	local i pid
	for ((i = 0; i < 100; i++)); do
		pid=$(pgrep -u agent -f '^au-netproxy [0-9]+$' | head -n 1)
		[[ -n $pid ]] && echo "$pid" && return 0
		sleep 0.1
	done
	return 1
}

@test "the agent cannot see, signal or trace its proxy, which other processes of its uid could" {
	# The agent waits for the proxy's pid (in the host's numbering), then goes for it.
	run_in_background au run --no-login sh -c "$WAKE"'
		while [ ! -e ~/proxy-pid ]; do sleep 0.1; done
		pid=$(cat ~/proxy-pid)
		[ -e /proc/$pid ] && echo "visible" || echo "not visible"
		kill -0 "$pid" 2>/dev/null && echo "signalled" || echo "not signalled"
		kill -KILL "$pid" 2>/dev/null; pkill -KILL -x au-netproxy; kill -KILL -1 2>/dev/null
		ps -eo args= | grep -c "^au-netproxy" || true'
	local pid
	pid=$(proxy_pid) || fail "no proxy for the run: $(cat "$BATS_TEST_TMPDIR/bg.out")"

	# Where the defence is absent (a process of the agent's uid in the host's PID
	# namespace), it is there to see and to signal.
	run su agent -s /bin/sh -c "ps -eo pid=,args= | grep -c '^ *$pid au-netproxy'; kill -0 $pid && echo signalled" </dev/null
	assert_line --index 0 1
	assert_line --index 1 signalled
	# A process of that uid that is dumpable can be read and traced by its peers; the proxy is not.
	run su agent -s /bin/sh -c 'sleep 30 & p=$!; head -c 4 /proc/$p/environ >/dev/null && echo readable; kill $p' </dev/null
	assert_output readable
	run stat -c %U "/proc/$pid/environ"
	assert_output root
	run su agent -s /bin/sh -c "cat /proc/$pid/environ; cat /proc/$pid/maps" </dev/null
	assert_failure
	assert_output --partial "Permission denied"

	# From inside au run, it is nowhere.
	echo "$pid" >/home/agent/proxy-pid
	wait "$BACKGROUND"
	BACKGROUND=
	run cat "$BATS_TEST_TMPDIR/bg.out"
	assert_line "not visible"
	assert_line "not signalled"
	assert_line 0
	# And it outlived every attempt until the run ended.
	assert_logged '.kind == "proxy" and .reason == "stopped: the agent is gone"'
}

@test "no host-side listener, no new interface, no socket file: the proxy's only doors are in the agent's namespace" {
	ss -H -lntux | sort >"$BATS_TEST_TMPDIR/before"
	ip -o link | cut -d: -f2 | sort >"$BATS_TEST_TMPDIR/links-before"
	# Where the defence is absent, a listener of the agent's uid is one every local user reaches.
	su agent -s /bin/sh -c 'exec /usr/bin/python3 -m http.server --bind 127.0.0.1 0' </dev/null >/dev/null 2>&1 3>&- &
	local baseline=$!
	sleep 1
	run bash -c "ss -H -lnt | sort | comm -13 '$BATS_TEST_TMPDIR/before' -"
	kill "$baseline"
	assert_output --partial "127.0.0.1:"

	run_in_background au run --no-login sh -c "$WAKE; sleep 10"
	local pid
	pid=$(proxy_pid) || fail "no proxy for the run"
	# The proxy holds listeners (ports 53, 3128, 1080, 22, 80, 443), but in the agent's namespace.
	run ls -l "/proc/$pid/fd"
	assert_line --regexp ' 5 -> socket:'
	# None of them in the host's namespace (other programs of the machine may come and go).
	run bash -c "ss -H -lntuxp | grep -F 'pid=$pid,'"
	assert_output ""
	run bash -c "ip -o link | cut -d: -f2 | sort | comm -13 '$BATS_TEST_TMPDIR/links-before' -"
	assert_output ""
	run nsenter -t "$pid" -n ss -H -lnt
	refute_output --partial ":3128"
}

@test "the agent cannot bind or sniff in the host's network namespace" {
	local port
	port=$(free_port)
	human_server "$port"
	local hex
	hex=$(printf '%04X' "$port")
	local agent_port
	agent_port=$(free_port)

	# Where the defence is absent: the agent's uid sees the human's listening port and
	# connections in /proc/net/tcp, and a server of its own is the host's, which the
	# human's tools reach on 127.0.0.1.
	run su agent -s /bin/sh -c "grep -c ':$hex ' /proc/net/tcp" </dev/null
	refute_output 0
	su agent -s /bin/sh -c "exec /usr/bin/python3 -m http.server --bind 127.0.0.1 $agent_port" </dev/null >/dev/null 2>&1 3>&- &
	local impostor=$! i
	for ((i = 0; i < 50; i++)); do
		curl -s -o /dev/null "http://127.0.0.1:$agent_port/" && break
		sleep 0.1
	done
	run curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$agent_port/"
	kill "$impostor"
	assert_output 200

	# Inside au run: nothing of the host's in /proc/net, and its own server stays its own.
	run --separate-stderr as_human au run --no-login sh -c "grep -c ':$hex ' /proc/net/tcp /proc/net/tcp6; grep -c . /proc/net/unix"
	assert_line --index 0 --regexp ':0$'
	assert_line --index 1 --regexp ':0$'
	run_in_background au run --no-login sh -c "
		/usr/bin/python3 -m http.server --bind 127.0.0.1 $agent_port >/dev/null 2>&1 &
		until curl -s -o /dev/null http://127.0.0.1:$agent_port/; do sleep 0.1; done
		touch ~/serving; sleep 30"
	for ((i = 0; i < 300; i++)); do
		[[ -e /home/agent/serving ]] && break
		sleep 0.1
	done
	assert [ -e /home/agent/serving ]
	run curl -sS --max-time 5 "http://127.0.0.1:$agent_port/"
	assert_failure 7
}

@test "the agent cannot open raw or packet sockets, not even in a user namespace of its own" {
	local probe='import socket, sys
for name, args in (("packet", (socket.AF_PACKET, socket.SOCK_RAW, 0x0300)), ("raw", (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))):
    try:
        socket.socket(*args); print(name, "opened")
    except PermissionError:
        print(name, "refused")'
	# Where the defence is absent (a process with CAP_NET_RAW in the host's namespace), both open:
	# every packet on this machine's interfaces is there to read.
	run /usr/bin/python3 -c "$probe"
	assert_output "packet opened
raw opened"

	run --separate-stderr as_human au run --no-login /usr/bin/python3 -c "$probe"
	assert_output "packet refused
raw refused"
	# A user namespace gives capabilities over namespaces of its own, never over the agent's.
	run --separate-stderr as_human au run --no-login unshare --user --map-root-user /usr/bin/python3 -c "$probe"
	refute_output --partial opened
	# ping's datagram sockets are off in a new namespace too.
	run --separate-stderr as_human au run --no-login /usr/bin/python3 -c \
		'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)'
	assert_failure
}

@test "smuggling: a CONNECT inside a CONNECT goes to the allowed host, never to the inner target" {
	require_destinations
	local mirror_path=${MIRROR_FILE#*://$MIRROR_HOST}
	local probe="import socket, sys
s = socket.create_connection(('127.0.0.1', 3128), timeout=20)
def connect(host, port):
    s.sendall(('CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n' % (host, port, host, port)).encode())
    return s.recv(4096)
outer, port = sys.argv[1], int(sys.argv[2])
head = connect(outer, port)
print(head.split(b'\r\n')[0].decode())
if not head.startswith(b'HTTP/1.1 200'):
    sys.exit(1)
if len(sys.argv) > 3:
    # The inner CONNECT: to the allowed host's server it is bytes like any other.
    try:
        connect(sys.argv[3], 80)
    except Exception:
        pass
    sys.exit(0)
s.sendall(('GET $mirror_path HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' % outer).encode())
answer = b''
while len(answer) < 1 << 20:
    more = s.recv(65536)
    if not more:
        break
    answer += more
print('MIRROR' if b'\nSuite:' in answer else 'NOT THE MIRROR')"

	# Where nothing stands in the way (mode all), the probe fetches the mirror's file.
	run --separate-stderr as_human au run --no-login /usr/bin/python3 -c "$probe" "$MIRROR_HOST" 80
	assert_line --index 0 --partial "200"
	assert_line --index 1 MIRROR
	assert_logged ".kind == \"connect\" and .dest == \"$MIRROR_HOST:80\" and .decision == \"allow\""

	as_human au net mode allow >/dev/null
	as_human au net allow "$REGISTRY_HOST" >/dev/null
	rm "$(human_home)/.local/state/au/net/agent.log"
	run --separate-stderr as_human au run --no-login /usr/bin/python3 -c "$probe" "$MIRROR_HOST" 80
	assert_failure
	assert_line --index 0 --partial "403"
	# Inside a tunnel to the allowed host, on its TLS port and on its plain one.
	for port in 443 80; do
		run --separate-stderr as_human au run --no-login /usr/bin/python3 -c "$probe" "$REGISTRY_HOST" "$port" "$MIRROR_HOST"
		assert_success
		assert_line --index 0 --partial "200"
	done
	# The proxy dialed the allowed host each time, and the mirror never.
	assert_logged ".kind == \"connect\" and .dest == \"$REGISTRY_HOST:443\" and .decision == \"allow\""
	assert_logged ".kind == \"connect\" and .dest == \"$REGISTRY_HOST:80\" and .decision == \"allow\""
	run net_log_json
	run jq -r 'select(.decision == "allow" and .kind != "proxy") | .dest' <<<"$output"
	refute_output --partial "$MIRROR_HOST"
}

@test "smuggling: an absolute URI with another Host header is refused" {
	require_destinations
	# Where no proxy checks it, the other name goes to the allowed host's server as the agent wrote it.
	run su agent -s /bin/sh -c "curl -sS --max-time 20 -o /dev/null -w '%{http_code}' -H 'Host: $MIRROR_HOST' 'http://$REGISTRY_HOST/'" </dev/null
	refute_output 000

	as_human au net mode allow >/dev/null
	as_human au net allow "$REGISTRY_HOST" >/dev/null
	run --separate-stderr as_human au run --no-login curl -sS --max-time 20 -w '%{http_code}' -H "Host: $MIRROR_HOST" "http://$REGISTRY_HOST/"
	assert_output --partial "au: bad proxy request: Host header does not match the URI"
	assert_output --partial 400
	assert_logged ".kind == \"http\" and .dest == \"$REGISTRY_HOST:80\" and .decision == \"deny\" and .reason == \"bad request: Host header does not match the URI\""
}

@test "smuggling: TLS to an allowed host's address with another name (SNI) is refused" {
	require_destinations
	local registry_ip
	registry_ip=$(getent ahostsv4 "$REGISTRY_HOST" | awk 'NR == 1 { print $1 }')
	# Where no proxy checks it, the other name reaches the allowed host's server in its
	# ClientHello: the server answers (with a page or a TLS alert; not a refused connection).
	run su agent -s /bin/sh -c "curl -sS -k --max-time 20 -o /dev/null --resolve '$MIRROR_HOST:443:$registry_ip' 'https://$MIRROR_HOST/'" </dev/null
	[[ $status != 6 && $status != 7 && $status != 28 ]] || fail "the allowed host's server did not answer: $output"

	as_human au net mode allow >/dev/null
	as_human au net allow "$REGISTRY_HOST" >/dev/null
	# The stub's address for the allowed name, given the denied name in TLS.
	run --separate-stderr as_human au run --no-login sh -c "
		fake=\$(getent ahostsv4 '$REGISTRY_HOST' | awk 'NR == 1 { print \$1 }')
		echo \"\$fake\"
		curl -sS -k --noproxy '*' --max-time 20 -o /dev/null -w '%{http_code}' --resolve '$MIRROR_HOST:443:'\$fake 'https://$MIRROR_HOST/'"
	assert_line --index 0 --regexp '^127\.1\.'
	assert_line --index 1 --partial 000
	assert_logged ".kind == \"capture\" and .dest == \"$REGISTRY_HOST:443\" and .decision == \"deny\" and .reason == \"SNI mismatch: $MIRROR_HOST\""
}

@test "no process of the agent holds the proxy's channel or a listener; only the proxy does" {
	run_in_background au run --no-login sh -c "$WAKE; sleep 5 & sleep 5"
	local pid
	pid=$(proxy_pid) || fail "no proxy for the run"
	sleep 1
	# The proxy, a process of the agent's uid, holds them: the channel (3) and the listeners (5..).
	local theirs
	theirs=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 \( -name 3 -o -name '[5-9]' -o -name '1[01]' \) -printf '%l\n' | sort -u)
	assert [ "$(grep -c '^socket:' <<<"$theirs")" -ge 8 ]
	# Every other process of the agent's (init, the shell, the sleeps) holds none of them.
	local p held=""
	for p in $(pgrep -u agent); do
		[[ $p == "$pid" ]] && continue
		held+=$(find "/proc/$p/fd" -mindepth 1 -maxdepth 1 -printf '%l\n' 2>/dev/null | grep -Fx -f <(echo "$theirs") || true)
	done
	assert_equal "$held" ""
}

@test "the proxy's end of its channel is the proxy's alone: not the entrypoint's, nor its cgroup sweeper's" {
	run_in_background au run --no-login sh -c "$WAKE; sleep 5"
	local pid channel p held=""
	pid=$(proxy_pid) || fail "no proxy for the run"
	sleep 1
	channel=$(readlink "/proc/$pid/fd/3")
	[[ $channel == socket:* ]] || fail "the proxy's fd 3 is '$channel'"
	# Whoever else held it would keep au reading a channel the proxy has closed.
	for p in /proc/[0-9]*; do
		[[ ${p#/proc/} == "$pid" ]] && continue
		if find "$p/fd" -mindepth 1 -maxdepth 1 -printf '%l\n' 2>/dev/null | grep -qxF -- "$channel"; then
			held+=" ${p#/proc/}:$(cat "$p/comm" 2>/dev/null)"
		fi
	done
	assert_equal "$held" ""
}

# The processes of the agent's uid in the host's PID namespace (the agent's own are in theirs).
agent_procs_outside() {
	local p
	for p in $(pgrep -u agent); do
		[[ $(readlink "/proc/$p/ns/pid") == "$(readlink /proc/self/ns/pid)" ]] && echo "$p"
	done
	return 0
}

@test "the proxy waits for the agent's first use untraceable, and a run that never uses it leaves nothing behind" {
	# Where the defence is absent: a dumpable process of the agent's uid, its peers read.
	run su agent -s /bin/sh -c 'sleep 30 & p=$!; head -c 4 /proc/$p/environ >/dev/null && echo readable; kill $p' </dev/null
	assert_output readable

	run_in_background au run --no-login sh -c "sleep 6; $WAKE; sleep 2"
	local i waiting=""
	for ((i = 0; i < 50; i++)); do
		waiting=$(agent_procs_outside)
		[[ -n $waiting ]] && break
		sleep 0.1
	done
	# Before that use: one process waits in the host's namespaces, not yet au-netproxy...
	assert [ -n "$waiting" ]
	assert_equal "$(wc -w <<<"$waiting")" 1
	run pgrep -u agent -f '^au-netproxy'
	assert_failure
	# ...not dumpable (its /proc files are root's), holding the listeners and nothing of au's but the channel.
	run stat -c %U "/proc/$waiting/environ"
	assert_output root
	run su agent -s /bin/sh -c "cat /proc/$waiting/environ; cat /proc/$waiting/maps" </dev/null
	assert_failure
	assert_output --partial "Permission denied"
	run bash -c "ls /proc/$waiting/fd | sort -n | tr '\n' ' '"
	assert_output "0 1 2 3 4 5 6 7 8 9 10 11 12 "
	# The agent's first use: that very process becomes the proxy.
	local pid
	pid=$(proxy_pid) || fail "no proxy for the run: $(cat "$BATS_TEST_TMPDIR/bg.out")"
	assert_equal "$pid" "$waiting"
	wait "$BACKGROUND"
	BACKGROUND=
	assert_logged '.kind == "proxy" and .reason == "stopped: the agent is gone"'

	# A run that never uses its network: no proxy, no record, and nothing of the agent's left.
	local before
	before=$(net_log_json | wc -l)
	run --separate-stderr as_human au run --no-login true
	assert_success
	assert_equal "$stderr" ""
	for ((i = 0; i < 50; i++)); do
		[[ -z $(pgrep -u agent) ]] && break
		sleep 0.1
	done
	run pgrep -u agent
	assert_output ""
	assert_equal "$(net_log_json | wc -l)" "$before"
}

@test "a proxy the agent took over cannot write raw bytes into the human's log or terminal" {
	# What a proxy under the agent's control could send: valid records full of escapes,
	# invalid ones, another run's, and bytes that are no record at all.
	cat >"$BATS_TEST_TMPDIR/evil.c" <<-'EOF'
		#include <stdio.h>
		#include <string.h>
		#include <sys/socket.h>
		#include <unistd.h>
		static char agent[80], run[80];
		static void say(const char *kind, const char *decision, const char *reason_json)
		{
			char rec[4096];
			int n = snprintf(rec, sizeof(rec), "{\"time\":\"2026-12-01T20:26:36.123Z\",\"agent\":\"%s\",\"run\":\"%s\","
					 "\"kind\":\"%s\",\"dest\":\"evil.example:443\",\"addr\":\"\",\"decision\":\"%s\","
					 "\"reason\":%s,\"up\":0,\"down\":0,\"ms\":0}", agent, run, kind, decision, reason_json);
			send(3, rec, (size_t)n, 0);
		}
		int main(void)
		{
			char policy[65537], *p;
			ssize_t n = recv(3, policy, sizeof(policy) - 1, 0);
			if (n <= 0)
				return 1;
			policy[n] = '\0';
			if (!(p = strstr(policy, "\nagent ")) || sscanf(p, "\nagent %79s", agent) != 1 ||
			    !(p = strstr(policy, "\nrun ")) || sscanf(p, "\nrun %79s", run) != 1)
				return 1;
			say("proxy", "allow", "\"started: evil\"");
			say("connect", "allow", "\"\\u001b]0;pwned\\u0007\\u001b[2J\\u009b31m\"");
			say("connect", "allow", "\"\x1b[2J raw\"");
			strcpy(run, "another-run");
			say("connect", "allow", "\"another run\"");
			send(3, "\x1b]0;pwned\x07", 10, 0);
			/* All said: the connection that started it (fd 7, port 3128) may go. */
			close(accept(7, NULL, NULL));
			char byte;
			while (read(4, &byte, 1) > 0)
				;
			return 0;
		}
	EOF
	cc -o "$BATS_TEST_TMPDIR/evil" "$BATS_TEST_TMPDIR/evil.c"
	# Printed as they come, these bytes would drive the human's terminal.
	run bash -c "grep -c \$'\\e' '$BATS_TEST_TMPDIR/evil'"
	refute_output 0
	cp -a "$PROXY" "$PROXY.orig"
	install -o root -g root -m 0711 "$BATS_TEST_TMPDIR/evil" "$PROXY"

	# (The agent waits until that proxy, started by its connection, lets it go.)
	run --separate-stderr as_human au run --no-login bash -c 'exec 3<>/dev/tcp/127.0.0.1/3128; cat <&3'
	assert_success
	assert_regex "$stderr" "warning: the network proxy sent 3 malformed records: not in the log"
	run --separate-stderr as_human au net log
	assert_success
	refute_output --partial $'\e'
	refute_output --partial $'\a'
	assert_line --partial '(\x1b]0;pwned\x07\x1b[2J\xc2\x9b31m)'
	refute_output --partial "another run"
	refute_output --partial "raw"
	run --separate-stderr as_human au net log --json
	refute_output --partial $'\e'
	assert_line --partial '"reason":"\u001b]0;pwned\u0007\u001b[2J\u009b31m"'
	assert_equal "${#lines[@]}" 2
	# And the file holds nothing else.
	run grep -c $'\e' "$(human_home)/.local/state/au/net/agent.log"
	assert_output 0
}

@test "au never follows a symlink to write the log: a run whose log it cannot keep does not start" {
	local log_dir
	log_dir=$(human_home)/.local/state/au/net
	as_human au run --no-login true
	rm "$log_dir/agent.log"
	ln -s ../../../../.bashrc "$log_dir/agent.log"
	chown -h "$AU_HUMAN:" "$log_dir/agent.log"
	local before
	before=$(sha256sum "$(human_home)/.bashrc")
	# Where the defence is absent, an append through the link lands in the human's .bashrc.
	run su "$AU_HUMAN" -s /bin/sh -c "cat '$log_dir/agent.log' >/dev/null && echo followed" </dev/null
	assert_output followed

	run --separate-stderr as_human au run --no-login touch /home/agent/ran
	assert_failure 1
	assert_regex "${stderr_lines[0]}" "^au: cannot keep the network log '.*/agent.log': cannot open 'agent.log': it is a symlink\$"
	assert [ ! -e /home/agent/ran ]
	assert_equal "$(sha256sum "$(human_home)/.bashrc")" "$before"
	# A hard link to a file of the human's is refused the same way.
	rm "$log_dir/agent.log"
	ln "$(human_home)/.bashrc" "$log_dir/agent.log"
	run --separate-stderr as_human au run --no-login touch /home/agent/ran
	assert_failure 1
	assert_regex "${stderr_lines[0]}" "not a private file of yours with one link"
	assert_equal "$(sha256sum "$(human_home)/.bashrc")" "$before"
}

@test "the agent's resolv.conf is au's, read-only, wherever /etc/resolv.conf leads" {
	# /etc/resolv.conf as a link into /run, as systemd-resolved makes it (teardown puts it back).
	local saved=$BATS_TEST_TMPDIR/resolv.conf
	cp -a /etc/resolv.conf "$saved"
	mkdir -p /run/au-test-resolve
	cp "$saved" /run/au-test-resolve/stub-resolv.conf
	rm /etc/resolv.conf
	ln -s ../run/au-test-resolve/stub-resolv.conf /etc/resolv.conf
	# Where the defence is absent, whoever writes that file steers every resolver reading it.
	echo "nameserver 192.0.2.53" >>/run/au-test-resolve/stub-resolv.conf
	run grep -c 192.0.2.53 /etc/resolv.conf
	assert_output 1

	run --separate-stderr as_human au run --no-login sh -c 'cat /etc/resolv.conf; echo "nameserver 192.0.2.53" >>/etc/resolv.conf'
	assert_failure
	assert_line "nameserver 127.0.0.1"
	refute_output --partial 192.0.2.53
	assert_regex "$stderr" "(Read-only file system|Permission denied)"
	# A target in a folder the agent could change is refused, not followed.
	mkdir -p /home/agent/dns
	cp "$saved" /home/agent/dns/resolv.conf
	chown -R agent /home/agent/dns
	ln -sfn /home/agent/dns/resolv.conf /etc/resolv.conf
	run --separate-stderr as_human au run --no-login true
	assert_failure 125
	assert_regex "$stderr" "^au: entrypoint: '/etc/resolv.conf' leads through 'agent', which the agent or you could change\$"
}
