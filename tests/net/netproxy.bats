#!/usr/bin/env bats
# au-netproxy end to end: the real program, started the way the setuid entrypoint will
# start it (tests/net/launch: listeners made inside the agent's network namespace, fds
# 3/4/5.., an unprivileged uid with no_new_privs, an empty environment), against real
# clients (curl, dig, bash, python) and real servers (tests/net/servers.py).
#
# Three network namespaces stand for the world:
#   agent     only loopback; the clients run here, with the DNS stub as their resolver
#   host      plays the host: the proxy runs here, with its own /etc/hosts (ip netns
#             exec binds /etc/netns/NAME/*), services on its loopback (127.0.0.1:8000,
#             :8001) and on its own interface address (198.51.100.1:9000)
#   net       the internet, behind a veth: 198.51.100.2 (allowed.test, other.test),
#             198.51.100.3 (denied.test), 10.99.0.2 (private.test), 169.254.169.254
#             (metadata.test), 2001:db8::2 (v6only.test); HTTP on 80 and 8080, HTTPS on
#             443, an ssh-like banner on 22
# Each security test first shows that the attack works where the proxy is not in the
# way (from the host namespace, straight to the server), then that it fails through it.

bats_require_minimum_version 1.5.0
load /usr/lib/bats/bats-support/load
load /usr/lib/bats/bats-assert/load

PROXY_UID=64123
HERE=$BATS_TEST_DIRNAME

# Who we need, and where things are. A test that cannot run fails under
# AU_TESTS_MUST_WORK=1 (make check in CI) and is skipped otherwise.
cannot_run() {
	if [[ ${AU_TESTS_MUST_WORK:-} == 1 ]]; then
		echo "netproxy.bats cannot run: $*" >&2
		return 1
	fi
	skip "$*"
}

find_programs() {
	local builddir=${AU_BUILDDIR:-}

	LAUNCH=${NETPROXY_LAUNCH:-${builddir:+$builddir/tests/net/launch}}
	PROXY=${NETPROXY:-}
	if [[ -z $PROXY ]]; then
		# The installed program when there is one (the world installs au), else the build's.
		if [[ -n ${AU_PREFIX:-} && -x ${AU_PREFIX}/libexec/agent-as-unix-user/au-netproxy ]]; then
			PROXY=$AU_PREFIX/libexec/agent-as-unix-user/au-netproxy
		elif [[ -n $builddir ]]; then
			PROXY=$builddir/netproxy/au-netproxy
		fi
	fi
}

setup_file() {
	local tool

	find_programs
	((EUID == 0)) || { cannot_run "needs root (network namespaces)"; return; }
	[[ -x ${LAUNCH:-} && -x ${PROXY:-} ]] ||
		{ cannot_run "set AU_BUILDDIR (or NETPROXY_LAUNCH and NETPROXY): no launcher or proxy"; return; }
	for tool in ip curl dig openssl jq setpriv /usr/bin/python3; do
		command -v "$tool" >/dev/null || { cannot_run "needs $tool (tools/install-deps)"; return; }
	done

	# Short unique names: interface names have 15 bytes.
	SUF=$(printf '%04x' $((RANDOM)))
	NS_AGENT=au-t-agent-$SUF
	NS_HOST=au-t-host-$SUF
	NS_NET=au-t-net-$SUF
	WORK=$(mktemp -d /tmp/au-netproxy-test.XXXXXX)
	chmod 0755 "$WORK"
	export SUF NS_AGENT NS_HOST NS_NET WORK LAUNCH PROXY
	echo "$SUF" >"$BATS_FILE_TMPDIR/suffix"

	# ip netns exec binds /etc/netns/NAME/FILE over /etc/FILE: /etc/resolv.conf must be a file.
	if [[ -L /etc/resolv.conf && ! -e /etc/resolv.conf && -n ${AU_WORLD:-} ]]; then
		rm /etc/resolv.conf && : >/etc/resolv.conf
	fi

	ip netns add "$NS_AGENT"
	ip netns add "$NS_HOST"
	ip netns add "$NS_NET"
	for ns in "$NS_AGENT" "$NS_HOST" "$NS_NET"; do
		ip -n "$ns" link set lo up
	done
	ip link add "vh$SUF" netns "$NS_HOST" type veth peer name "vn$SUF" netns "$NS_NET"
	ip -n "$NS_HOST" addr add 198.51.100.1/24 dev "vh$SUF"
	ip -n "$NS_HOST" addr add 10.99.0.1/24 dev "vh$SUF"
	ip -n "$NS_NET" addr add 198.51.100.2/24 dev "vn$SUF"
	ip -n "$NS_NET" addr add 198.51.100.3/24 dev "vn$SUF"
	ip -n "$NS_NET" addr add 10.99.0.2/24 dev "vn$SUF"
	ip -n "$NS_NET" addr add 169.254.169.254/32 dev "vn$SUF"
	ip -n "$NS_HOST" addr add 2001:db8::1/64 dev "vh$SUF" nodad
	ip -n "$NS_NET" addr add 2001:db8::2/64 dev "vn$SUF" nodad
	ip -n "$NS_HOST" link set "vh$SUF" up
	ip -n "$NS_NET" link set "vn$SUF" up
	ip -n "$NS_HOST" route add 169.254.169.254/32 dev "vh$SUF"

	mkdir -p "/etc/netns/$NS_HOST" "/etc/netns/$NS_AGENT"
	cat >"/etc/netns/$NS_HOST/hosts" <<-EOF
		127.0.0.1 localhost
		198.51.100.2 allowed.test www.allowed.test other.test
		198.51.100.3 denied.test
		127.0.0.1 rebind.test
		10.99.0.2 private.test
		169.254.169.254 metadata.test
		198.51.100.1 myself.test
		2001:db8::2 v6only.test
	EOF
	# Names not in hosts fail fast: nothing answers on the host's 127.0.0.1:53.
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"/etc/netns/$NS_HOST/resolv.conf"
	# The agent's resolver is the stub, and it knows no names of its own.
	printf '127.0.0.1 localhost\n' >"/etc/netns/$NS_AGENT/hosts"
	printf 'nameserver 127.0.0.1\noptions timeout:2 attempts:1\n' >"/etc/netns/$NS_AGENT/resolv.conf"

	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test -keyout "$WORK/key.pem" \
		-out "$WORK/cert.pem" 2>/dev/null
	start_servers "$NS_NET" net --cert "$WORK/cert.pem" --key "$WORK/key.pem" \
		http:0.0.0.0:80 http:0.0.0.0:8080 https:0.0.0.0:443 banner:0.0.0.0:22 'http:[2001:db8::2]:80'
	start_servers "$NS_HOST" host http:127.0.0.1:8000 http:127.0.0.1:8001 http:198.51.100.1:9000
}

# start_servers NS NAME ARGS...: servers.py in NS, its pid in $WORK/NAME.pid.
start_servers() {
	local ns=$1 name=$2
	shift 2

	# 3>&-: bats waits for whoever holds its fd 3.
	ip netns exec "$ns" /usr/bin/python3 "$HERE/servers.py" --log "$WORK/access.log" \
		--ready "$WORK/$name.ready" "$@" >"$WORK/$name.out" 2>&1 3>&- &
	echo $! >"$WORK/$name.pid"
	wait_for_file "$WORK/$name.ready" || { cat "$WORK/$name.out" >&2; return 1; }
}

teardown_file() {
	local suffix name

	[[ -f $BATS_FILE_TMPDIR/suffix ]] || return 0
	suffix=$(cat "$BATS_FILE_TMPDIR/suffix")
	for name in net host; do
		[[ -f ${WORK:-/nonexistent}/$name.pid ]] && kill "$(cat "$WORK/$name.pid")" 2>/dev/null
	done
	for name in agent host net; do
		ip netns del "au-t-$name-$suffix" 2>/dev/null || true
		rm -rf "/etc/netns/au-t-$name-$suffix"
	done
	rmdir /etc/netns 2>/dev/null || true
	[[ -n ${WORK:-} ]] && rm -rf "$WORK"
	return 0
}

wait_for_file() {
	local i

	for ((i = 0; i < 100; i++)); do
		[[ -e $1 ]] && return 0
		sleep 0.05
	done
	return 1
}

# --- the proxy ----------------------------------------------------------------------

# Every listener the entrypoint will make: DNS, HTTP, SOCKS, and capture ports.
LISTENERS=(
	--listen tcp:127.0.0.1:3128 --listen tcp:127.0.0.1:1080
	--listen udp:127.0.0.1:53 --listen tcp:127.0.0.1:53
	--listen 'tcp:[::]:22' --listen 'tcp:[::]:80' --listen 'tcp:[::]:443'
	--listen 'tcp:[::]:8080' --listen 'tcp:[::]:8000' --listen 'tcp:[::]:3129'
)

# launch [LAUNCH-OPTIONS...]: starts the launcher (and the proxy) in the host namespace,
# with the policy in $RUN/policy; $RUN holds pid, log, ready, exit.
launch() {
	RUN=$BATS_TEST_TMPDIR/run
	mkdir -p "$RUN"
	chmod 0755 "$RUN"
	ip netns exec "$NS_HOST" "$LAUNCH" --netns "/run/netns/$NS_AGENT" --uid "$PROXY_UID" \
		--gid "$PROXY_UID" --dir "$RUN" "$@" "$PROXY" 2>"$RUN/launch.err" 3>&- &
	LAUNCHER=$!
}

# start_proxy MODE [PATTERN...]: a proxy with that policy, ready to serve.
start_proxy() {
	local mode=$1 pattern
	shift

	mkdir -p "$BATS_TEST_TMPDIR/run"
	{
		printf 'au-netproxy 1\nmode %s\nagent claude\nrun test-%s\n' "$mode" "$BATS_TEST_NUMBER"
		for pattern in "$@"; do
			printf 'allow %s\n' "$pattern"
		done
		printf 'end\n'
	} >"$BATS_TEST_TMPDIR/run/policy"
	launch --policy "$BATS_TEST_TMPDIR/run/policy" "${LISTENERS[@]}"
	if ! wait_for_file "$RUN/ready"; then
		cat "$RUN/launch.err" "$RUN/log" >&2
		fail "the proxy did not start"
	fi
}

# stop_proxy: the agent goes away (the lifetime pipe closes). The proxy's exit status
# is then in $RUN/exit.
stop_proxy() {
	[[ -n ${LAUNCHER:-} ]] || return 0
	kill -TERM "$LAUNCHER" 2>/dev/null || true
	wait_for_file "$RUN/exit" || true
	wait "$LAUNCHER" 2>/dev/null || true
	LAUNCHER=
}

teardown() {
	stop_proxy
}

# --- acting in the namespaces -------------------------------------------------------

# in_agent CMD...: as a process in the agent's namespace, with a clean environment
# (no proxy variables unless a test passes them).
in_agent() {
	ip netns exec "$NS_AGENT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"
}

on_host() {
	ip netns exec "$NS_HOST" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"
}

# agent_curl ARGS...: curl in the agent's namespace, quiet, with short timeouts.
agent_curl() {
	in_agent curl -sS --max-time 10 --connect-timeout 5 "$@"
}

PROXY_URL=http://127.0.0.1:3128

# log_records [JQ-FILTER]: the records au received, as compact JSON lines.
log_records() {
	jq -c "${1:-.}" "$RUN/log"
}

# assert_logged JQ-CONDITION: some record matches.
assert_logged() {
	if ! jq -e -s "any(.[]; $1)" "$RUN/log" >/dev/null; then
		echo "no record matches: $1" >&2
		cat "$RUN/log" >&2
		return 1
	fi
}

# --- allow mode ---------------------------------------------------------------------

@test "allow mode: CONNECT, an absolute URI and SOCKS5 reach a listed host, each logged once" {
	start_proxy allow allowed.test

	run agent_curl -x "$PROXY_URL" http://allowed.test/plain
	assert_success
	assert_output --partial "server=198.51.100.2:80 method=GET path=/plain host=allowed.test"
	# The absolute URI went upstream in origin form, closed, without Proxy-* headers.
	assert_output --partial "proxy_headers=- connection=close"

	run agent_curl -p -x "$PROXY_URL" http://allowed.test:8080/tunnel
	assert_success
	assert_output --partial "server=198.51.100.2:8080 method=GET path=/tunnel"

	run agent_curl --socks5-hostname 127.0.0.1:1080 http://allowed.test/socks
	assert_success
	assert_output --partial "server=198.51.100.2:80 method=GET path=/socks"

	run agent_curl -k -x "$PROXY_URL" https://allowed.test/tls
	assert_success
	assert_output --partial "server=198.51.100.2:443 method=GET path=/tls host=allowed.test sni=allowed.test"

	assert_logged '.kind == "http" and .dest == "allowed.test:80" and .addr == "198.51.100.2:80" and .decision == "allow"'
	assert_logged '.kind == "connect" and .dest == "allowed.test:8080" and .decision == "allow"'
	assert_logged '.kind == "socks" and .dest == "allowed.test:80" and .decision == "allow"'
	assert_logged '.kind == "connect" and .dest == "allowed.test:443" and .decision == "allow"'
}

@test "allow mode: a name that is not listed is refused on every path, with a 403 that names au" {
	# The server is there and answers, straight from the host.
	run on_host curl -sS --max-time 5 http://denied.test/
	assert_success
	assert_output --partial "server=198.51.100.3:80"

	local denied_before
	denied_before=$(grep -c '^198.51.100.3:' "$WORK/access.log")
	start_proxy allow allowed.test
	run agent_curl -x "$PROXY_URL" -w '%{http_code}' http://denied.test/
	assert_output --partial "au: the agent's network policy does not allow this destination: not in allow list"
	assert_output --partial "403"
	run agent_curl -p -x "$PROXY_URL" http://denied.test/
	assert_failure 56
	assert_output --partial "403"
	run agent_curl --socks5-hostname 127.0.0.1:1080 http://denied.test/
	assert_failure 97
	# A subdomain of a listed name is not the name.
	run agent_curl -p -x "$PROXY_URL" http://www.allowed.test/
	assert_failure 56

	assert_logged '.kind == "http" and .dest == "denied.test:80" and .decision == "deny" and .reason == "not in allow list" and .addr == ""'
	assert_logged '.kind == "connect" and .dest == "denied.test:80" and .decision == "deny"'
	assert_logged '.kind == "socks" and .dest == "denied.test:80" and .decision == "deny"'
	assert_logged '.kind == "connect" and .dest == "www.allowed.test:80" and .decision == "deny"'
	# Nothing reached the denied server through the proxy.
	assert_equal "$(grep -c '^198.51.100.3:' "$WORK/access.log")" "$denied_before"
}

@test "allow mode: a port-restricted pattern allows that port only; a listed private name reaches the LAN" {
	start_proxy allow allowed.test:8080 private.test

	run agent_curl -p -x "$PROXY_URL" http://allowed.test:8080/
	assert_success
	run agent_curl -p -x "$PROXY_URL" http://allowed.test/
	assert_failure 56
	# private.test resolves to 10.99.0.2: the human listed the name, so the LAN is fine.
	run agent_curl -x "$PROXY_URL" http://private.test/
	assert_success
	assert_output --partial "server=10.99.0.2:80"
	assert_logged '.dest == "allowed.test:80" and .decision == "deny" and .reason == "not in allow list"'
}

# --- all mode and the checks after resolution ----------------------------------------

@test "all mode: any public name, but never the host's loopback (a name resolving to 127.0.0.1)" {
	# The attack without the proxy: rebind.test resolves to the host's loopback, where a service listens.
	run on_host curl -sS --max-time 5 http://rebind.test:8000/
	assert_success
	assert_output --partial "server=127.0.0.1:8000"

	start_proxy all
	run agent_curl -x "$PROXY_URL" http://denied.test/
	assert_success
	assert_output --partial "server=198.51.100.3:80"

	run agent_curl -p -x "$PROXY_URL" http://rebind.test:8000/
	assert_failure 56
	run agent_curl -x "$PROXY_URL" http://rebind.test:8000/
	assert_output --partial "au: the agent's network policy does not allow"
	run agent_curl --socks5-hostname 127.0.0.1:1080 http://rebind.test:8000/
	assert_failure 97
	assert_logged '.kind == "connect" and .dest == "rebind.test:8000" and .addr == "127.0.0.1:8000" and .decision == "deny" and .reason == "loopback address"'
	assert_logged '.kind == "socks" and .dest == "rebind.test:8000" and .reason == "loopback address"'
}

@test "all mode: private, metadata and the host's own addresses are refused after resolution" {
	run on_host curl -sS --max-time 5 http://private.test/
	assert_output --partial "server=10.99.0.2:80"
	run on_host curl -sS --max-time 5 http://metadata.test/
	assert_output --partial "server=169.254.169.254:80"
	run on_host curl -sS --max-time 5 http://myself.test:9000/
	assert_output --partial "server=198.51.100.1:9000"

	start_proxy all
	for target in private.test:80 metadata.test:80 myself.test:9000 10.99.0.2:80 169.254.169.254:80 \
		198.51.100.1:9000 '[::ffff:127.0.0.1]:8001' 127.0.0.2:8000; do
		run agent_curl -p -x "$PROXY_URL" "http://$target/"
		assert_failure 56
	done
	assert_logged '.dest == "private.test:80" and .addr == "10.99.0.2:80" and .reason == "private address"'
	assert_logged '.dest == "metadata.test:80" and .reason == "cloud metadata address"'
	assert_logged '.dest == "myself.test:9000" and .reason == "address of this host"'
	assert_logged '.dest == "10.99.0.2:80" and .reason == "private address"'
	assert_logged '.dest == "169.254.169.254:80" and .reason == "cloud metadata address"'
	assert_logged '.dest == "198.51.100.1:9000" and .reason == "address of this host"'
	assert_logged '.dest == "localhost:8001" and .reason == "localhost port not listed"'
	assert_logged '.dest == "127.0.0.2:8000" and .reason == "loopback address"'
}

@test "all mode: a listed IP literal is reached on its port, even in a private range" {
	start_proxy all 10.99.0.2:80
	run agent_curl -p -x "$PROXY_URL" http://10.99.0.2/
	assert_success
	assert_output --partial "server=10.99.0.2:80"
	run agent_curl -p -x "$PROXY_URL" http://10.99.0.2:8080/
	assert_failure 56
	assert_logged '.dest == "10.99.0.2:8080" and .reason == "private address"'
}

@test "IPv6: a listed name with only an IPv6 address, and an IPv6 literal, are dialed over IPv6" {
	start_proxy allow v6only.test '[2001:db8::2]:80'
	run agent_curl -x "$PROXY_URL" http://v6only.test/
	assert_success
	assert_output --partial "server=2001:db8::2:80 method=GET path=/ host=v6only.test"
	run agent_curl -p -x "$PROXY_URL" 'http://[2001:db8::2]/'
	assert_success
	run agent_curl --socks5 127.0.0.1:1080 'http://[2001:db8::2]/'
	assert_success
	run agent_curl -p -x "$PROXY_URL" 'http://[2001:db8::2]:8080/'
	assert_failure 56
	assert_logged '.kind == "http" and .dest == "v6only.test:80" and .addr == "[2001:db8::2]:80" and .decision == "allow"'
	assert_logged '.kind == "connect" and .dest == "[2001:db8::2]:80" and .decision == "allow"'
	assert_logged '.kind == "socks" and .dest == "[2001:db8::2]:80" and .decision == "allow"'
	assert_logged '.dest == "[2001:db8::2]:8080" and .reason == "not in allow list"'
}

# --- localhost:PORT ---------------------------------------------------------------------

@test "localhost:PORT reaches the human's server on the host's loopback, and no other port" {
	# Without the proxy the agent's loopback is its own: the host's service is not there.
	run in_agent curl -sS --max-time 5 http://127.0.0.1:8001/
	assert_failure

	start_proxy allow localhost:8000
	# Captured: the agent's own 127.0.0.1:8000 is the capture listener.
	run agent_curl http://localhost:8000/captured
	assert_success
	assert_output --partial "server=127.0.0.1:8000 method=GET path=/captured"
	run agent_curl -x "$PROXY_URL" http://localhost:8000/proxied
	assert_success
	assert_output --partial "server=127.0.0.1:8000 method=GET path=/proxied"
	run agent_curl -p -x "$PROXY_URL" http://127.0.0.1:8000/literal
	assert_success
	# The human's server listens on IPv4 only: [::1] falls back to 127.0.0.1.
	run agent_curl -p -x "$PROXY_URL" 'http://[::1]:8000/v6'
	assert_success
	assert_output --partial "server=127.0.0.1:8000 method=GET path=/v6"
	run agent_curl -x "$PROXY_URL" http://localhost:8001/
	assert_output --partial "au: the agent's network policy does not allow"
	assert_logged '.kind == "capture" and .dest == "localhost:8000" and .addr == "127.0.0.1:8000" and .decision == "allow"'
	assert_logged '.kind == "http" and .dest == "localhost:8001" and .decision == "deny" and .reason == "localhost port not listed"'
}

# --- DNS and capture ------------------------------------------------------------------

@test "DNS stub: listed names get stable fake addresses, others REFUSED, AAAA empty, over UDP and TCP" {
	start_proxy allow allowed.test '*.pkg.test'

	run in_agent dig +short +time=2 +tries=1 @127.0.0.1 allowed.test A
	assert_output "127.1.0.1"
	run in_agent dig +short +time=2 +tries=1 @127.0.0.1 a.pkg.test A
	assert_output "127.1.0.2"
	run in_agent dig +short +tcp +time=2 +tries=1 @127.0.0.1 ALLOWED.test. A
	assert_output "127.1.0.1"
	run in_agent dig +time=2 +tries=1 @127.0.0.1 denied.test A
	assert_output --partial "status: REFUSED"
	run in_agent dig +time=2 +tries=1 @127.0.0.1 pkg.test A
	assert_output --partial "status: REFUSED"
	run in_agent dig +time=2 +tries=1 @127.0.0.1 allowed.test AAAA
	assert_output --partial "status: NOERROR"
	assert_output --partial "ANSWER: 0"
	run in_agent dig +short +time=2 +tries=1 @127.0.0.1 localhost A
	assert_output "127.0.0.1"

	# One record for the first A query of allowed.test (not three), one per refusal.
	assert_equal "$(log_records 'select(.kind == "dns" and .dest == "allowed.test" and .reason == "A")' | wc -l)" 1
	assert_logged '.kind == "dns" and .dest == "allowed.test" and .addr == "127.1.0.1" and .decision == "allow"'
	assert_logged '.kind == "dns" and .dest == "denied.test" and .decision == "deny" and .reason == "not in allow list (A)"'
	assert_logged '.kind == "dns" and .dest == "allowed.test" and .reason == "AAAA: no address given"'
}

@test "a client that ignores proxy variables reaches a listed host through the stub and capture" {
	start_proxy allow allowed.test

	# curl without a proxy resolves through the stub, and connects to the fake address.
	run agent_curl --noproxy '*' http://allowed.test/plain
	assert_success
	assert_output --partial "server=198.51.100.2:80 method=GET path=/plain host=allowed.test"
	run agent_curl --noproxy '*' -k https://allowed.test/tls
	assert_success
	assert_output --partial "server=198.51.100.2:443 method=GET path=/tls host=allowed.test sni=allowed.test"
	# A listed port has its capture listener too.
	run agent_curl --noproxy '*' http://allowed.test:8080/
	assert_success
	assert_output --partial "server=198.51.100.2:8080"
	# ssh's port: the server speaks first, and the capture lets it.
	run in_agent timeout 10 bash -c 'exec 3<>/dev/tcp/allowed.test/22 && head -n 1 <&3'
	assert_success
	assert_output --partial "SSH-2.0-au-test"

	assert_logged '.kind == "capture" and .dest == "allowed.test:80" and .addr == "198.51.100.2:80" and .decision == "allow" and .down > 0'
	assert_logged '.kind == "capture" and .dest == "allowed.test:443" and .decision == "allow"'
	assert_logged '.kind == "capture" and .dest == "allowed.test:22" and .decision == "allow"'
}

@test "capture: a TLS ClientHello whose SNI is another name is refused" {
	# Without the proxy: the server at allowed.test's address serves denied.test to whoever asks.
	run on_host curl -sS -k --max-time 5 --resolve denied.test:443:198.51.100.2 https://denied.test/
	assert_success
	assert_output --partial "server=198.51.100.2:443 method=GET path=/ host=denied.test sni=denied.test"

	start_proxy allow allowed.test
	run in_agent dig +short +time=2 +tries=1 @127.0.0.1 allowed.test A
	assert_output "127.1.0.1"
	# The agent sends denied.test's name to allowed.test's fake address.
	run agent_curl --noproxy '*' -k --resolve denied.test:443:127.1.0.1 https://denied.test/
	assert_failure
	assert_logged '.kind == "capture" and .dest == "allowed.test:443" and .decision == "deny" and .reason == "SNI mismatch: denied.test"'
	# The same with the right name works.
	run agent_curl --noproxy '*' -k https://allowed.test/
	assert_success
}

@test "capture: only addresses the stub gave out, each for its own name and port" {
	start_proxy allow allowed.test:80
	run in_agent dig +short +time=2 +tries=1 @127.0.0.1 allowed.test A
	assert_output "127.1.0.1"

	# A fake address never handed out.
	run agent_curl --noproxy '*' http://127.1.0.77/
	assert_failure
	# allowed.test is listed for port 80 only: its fake address on 443 is allowed.test:443.
	run agent_curl --noproxy '*' -k https://127.1.0.1/
	assert_failure
	# Another loopback address of the agent's own, on a captured port.
	run agent_curl --noproxy '*' http://127.0.0.5/
	assert_failure
	assert_logged '.kind == "capture" and .dest == "127.1.0.77:80" and .reason == "fake address given to no name"'
	assert_logged '.kind == "capture" and .dest == "allowed.test:443" and .reason == "not in allow list"'
	assert_logged '.kind == "capture" and .dest == "127.0.0.5:80" and .reason == "not an address the DNS stub gave out"'
}

# --- smuggling ------------------------------------------------------------------------

@test "smuggling: an absolute URI with another Host header is a bad request" {
	# Without the proxy: the server obeys the Host header, not the address it was reached at.
	run on_host curl -sS --max-time 5 -H 'Host: denied.test' http://allowed.test/
	assert_output --partial "server=198.51.100.2:80 method=GET path=/ host=denied.test"

	start_proxy allow allowed.test
	run agent_curl -x "$PROXY_URL" -H 'Host: denied.test' -w '%{http_code}' http://allowed.test/
	assert_output --partial "400"
	assert_output --partial "au: bad proxy request: Host header does not match the URI"
	refute_output --partial "server="
	assert_logged '.kind == "http" and .dest == "allowed.test:80" and .decision == "deny" and .reason == "bad request: Host header does not match the URI"'
}

@test "smuggling: the fake address of a refused name is that name" {
	# Without the proxy, rebind.test is the host's loopback service.
	run on_host curl -sS --max-time 5 http://rebind.test:8000/
	assert_output --partial "server=127.0.0.1:8000"
	# rebind.test gets a fake address in mode all (every name does), but stays rebind.test.
	start_proxy all
	run in_agent dig +short +time=2 +tries=1 @127.0.0.1 rebind.test A
	assert_output "127.1.0.1"
	run agent_curl -p -x "$PROXY_URL" http://127.1.0.1:8000/
	assert_failure 56
	run agent_curl --socks5 127.0.0.1:1080 http://127.1.0.1:8000/
	assert_failure 97
	run agent_curl --noproxy '*' http://rebind.test:8000/
	assert_failure
	assert_logged '.kind == "connect" and .dest == "rebind.test:8000" and .reason == "loopback address"'
	assert_logged '.kind == "socks" and .dest == "rebind.test:8000" and .reason == "loopback address"'
	assert_logged '.kind == "capture" and .dest == "rebind.test:8000" and .reason == "loopback address"'
}

@test "smuggling: CONNECT to the proxy's own port is refused, and a listed localhost port is the host's" {
	start_proxy allow allowed.test
	# The proxy's port is there in the agent's namespace (it answers a plain request itself).
	run agent_curl http://127.0.0.1:3128/
	assert_output --partial "au: bad proxy request"
	run agent_curl -p -x "$PROXY_URL" http://127.0.0.1:3128/
	assert_failure 56
	run agent_curl -p -x "$PROXY_URL" http://localhost:3128/
	assert_failure 56
	assert_logged '.kind == "connect" and .dest == "localhost:3128" and .reason == "localhost port not listed"'
	stop_proxy

	# Listed, localhost:3128 is the host's port 3128 (nothing there), never the proxy's own listener.
	start_proxy allow localhost:3128
	run agent_curl -p -x "$PROXY_URL" http://localhost:3128/
	assert_failure 56
	assert_output --partial "502"
	assert_logged '.kind == "connect" and .dest == "localhost:3128" and .addr == "[::1]:3128" and .decision == "allow" and (.reason | startswith("connect failed"))'
}

@test "smuggling: a CONNECT inside a tunnel goes to the allowed upstream, never to the inner target" {
	local denied_before
	denied_before=$(grep -c '^198.51.100.3:' "$WORK/access.log")
	start_proxy allow allowed.test
	run in_agent /usr/bin/python3 -c '
import socket
s = socket.create_connection(("127.0.0.1", 3128), timeout=10)
s.sendall(b"CONNECT allowed.test:80 HTTP/1.1\r\nHost: allowed.test:80\r\n\r\n")
head = s.recv(4096)
assert head.startswith(b"HTTP/1.1 200"), head
s.sendall(b"CONNECT denied.test:80 HTTP/1.1\r\nHost: denied.test:80\r\n\r\n")
answer = b""
while not (b"body=" in answer and answer.endswith(b"\n")):
    more = s.recv(4096)
    if not more:
        break
    answer += more
print(answer.decode())
'
	assert_success
	# The inner CONNECT reached allowed.test's server as plain bytes.
	assert_output --partial "server=198.51.100.2:80 method=CONNECT path=denied.test:80"
	assert_equal "$(grep -c '^198.51.100.3:' "$WORK/access.log")" "$denied_before"
}

# --- the log ---------------------------------------------------------------------------

@test "log: every record is one JSON object with every field, and bytes and times add up" {
	start_proxy allow allowed.test
	run agent_curl -p -x "$PROXY_URL" -o /dev/null -w '%{size_download}' 'http://allowed.test/big?n=1000000'
	assert_success
	run agent_curl -x "$PROXY_URL" http://denied.test/
	stop_proxy

	# Each line parses and has exactly the fields au expects, of the right types.
	run jq -e -s 'all(.[]; (keys == ["addr","agent","decision","dest","down","kind","ms","reason","run","time","up"])
		and (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"))
		and .agent == "claude" and (.run | startswith("test-"))
		and (.decision == "allow" or .decision == "deny")
		and (.up | type == "number") and (.down | type == "number") and (.ms | type == "number" and . >= 0))' \
		"$RUN/log"
	assert_success
	assert_logged '.kind == "proxy" and (.reason | startswith("started: mode allow, 1 patterns"))'
	# The download: a million bytes down plus the response head; the request up.
	assert_logged '.kind == "connect" and .dest == "allowed.test:80" and .down > 1000000 and .down < 1001000 and .up > 50 and .up < 500 and .reason == "closed"'
	assert_logged '.kind == "http" and .dest == "denied.test:80" and .decision == "deny" and .up == 0 and .down == 0'
}

# --- lifetime and failure ------------------------------------------------------------------

@test "fail closed: once au closes the log channel, new connections and DNS queries are refused" {
	start_proxy allow allowed.test
	run agent_curl -x "$PROXY_URL" http://allowed.test/
	assert_success
	run in_agent dig +short +time=2 +tries=1 @127.0.0.1 allowed.test A
	assert_output "127.1.0.1"

	kill -USR1 "$LAUNCHER"
	wait_for_file "$RUN/channel-closed"
	run agent_curl -x "$PROXY_URL" http://allowed.test/
	assert_failure
	run agent_curl --noproxy '*' --resolve allowed.test:80:127.1.0.1 http://allowed.test/
	assert_failure
	run in_agent dig +time=1 +tries=1 @127.0.0.1 allowed.test A
	assert_failure
	# The proxy itself is still there (the agent's end decides when it goes).
	run kill -0 "$(cat "$RUN/pid")"
	assert_success
}

@test "the proxy exits 0 when the lifetime pipe reaches EOF, and takes its tunnels with it" {
	start_proxy allow allowed.test
	local pid
	pid=$(cat "$RUN/pid")
	# A long-lived tunnel is open when the agent goes.
	in_agent timeout 20 bash -c 'exec 3<>/dev/tcp/127.0.0.1/3128; printf "CONNECT allowed.test:22 HTTP/1.1\r\n\r\n" >&3; cat <&3' \
		>"$BATS_TEST_TMPDIR/tunnel.out" 3>&- &
	local client=$!
	sleep 0.5
	stop_proxy
	assert_equal "$(cat "$RUN/exit")" 0
	run kill -0 "$pid"
	assert_failure
	# Its last word says why it left, so that au knows the log is whole.
	run log_records 'select(.kind == "proxy") | .reason'
	assert_line --index 1 '"stopped: the agent is gone"'
	# The tunnel's client saw its end, long before its own timeout (which exits 124).
	run wait "$client"
	assert_success
	run cat "$BATS_TEST_TMPDIR/tunnel.out"
	assert_output --partial "SSH-2.0-au-test"
}

@test "the proxy runs as the agent's uid, not dumpable, with no_new_privs and seccomp" {
	start_proxy allow allowed.test
	local pid
	pid=$(cat "$RUN/pid")

	run grep -E '^(Uid|Gid|NoNewPrivs|Seccomp|CapEff):' "/proc/$pid/status"
	assert_line --regexp "^Uid:[[:space:]]+$PROXY_UID[[:space:]]+$PROXY_UID[[:space:]]+$PROXY_UID"
	assert_line --regexp "^NoNewPrivs:[[:space:]]+1"
	assert_line --regexp "^Seccomp:[[:space:]]+2"
	assert_line --regexp "^CapEff:[[:space:]]+0+$"
	# Its environment is empty.
	run cat "/proc/$pid/environ"
	assert_success
	assert_output ""

	# A dumpable process of the same uid can be read by that uid (the agent could)...
	setpriv --reuid "$PROXY_UID" --regid "$PROXY_UID" --clear-groups sleep 30 3>&- &
	local peer=$!
	sleep 0.2
	run setpriv --reuid "$PROXY_UID" --regid "$PROXY_UID" --clear-groups cat "/proc/$peer/environ"
	assert_success
	kill "$peer"
	# ...the proxy cannot.
	run setpriv --reuid "$PROXY_UID" --regid "$PROXY_UID" --clear-groups cat "/proc/$pid/environ"
	assert_failure
	assert_output --partial "Permission denied"
}

@test "start-up refusals: root, no no_new_privs, a listener on the host, a bad fd layout, a bad policy" {
	local policy=$'au-netproxy 1\nmode all\nagent a\nrun r\nend\n'

	# The control: the same launch as an ordinary uid starts.
	launch --policy-text "$policy" --listen tcp:127.0.0.1:3128
	wait_for_file "$RUN/ready"
	assert [ -e "$RUN/ready" ]
	stop_proxy
	rm -rf "$RUN"

	launch --keep-root --policy-text "$policy" --listen tcp:127.0.0.1:3128
	wait "$LAUNCHER" || true
	assert_equal "$(cat "$RUN/exit")" 1
	assert_logged '.kind == "proxy" and .decision == "deny" and (.reason | contains("refusing to run as root"))'
	rm -rf "$RUN"

	launch --no-nnp --policy-text "$policy" --listen tcp:127.0.0.1:3128
	wait "$LAUNCHER" || true
	assert_equal "$(cat "$RUN/exit")" 1
	assert_logged '.reason | contains("without no_new_privs")'
	rm -rf "$RUN"

	# The listener made in the proxy's own namespace would be a port on the host.
	launch --listen-here --policy-text "$policy" --listen tcp:127.0.0.1:3128
	wait "$LAUNCHER" || true
	assert_equal "$(cat "$RUN/exit")" 1
	assert_logged '.reason | contains("in the proxy'"'"'s own network namespace")'
	rm -rf "$RUN"

	launch --no-lifetime --policy-text "$policy" --listen tcp:127.0.0.1:3128
	wait "$LAUNCHER" || true
	assert_equal "$(cat "$RUN/exit")" 1
	assert_logged '.reason | contains("fd 4 is not the read end of a pipe")'
	rm -rf "$RUN"

	launch --policy-text $'au-netproxy 1\nmode everything\n' --listen tcp:127.0.0.1:3128
	wait "$LAUNCHER" || true
	assert_equal "$(cat "$RUN/exit")" 1
	assert_logged '.reason | contains("bad policy: line 2")'
	LAUNCHER=
}
