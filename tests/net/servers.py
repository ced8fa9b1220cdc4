#!/usr/bin/python3
"""servers.py: the test servers of tests/net/netproxy.bats, in one process.

    servers.py --log FILE --ready FILE [--cert PEM --key PEM] SPEC...

SPEC is http:ADDR:PORT, https:ADDR:PORT or banner:ADDR:PORT (IPv6 in brackets). Every HTTP(S)
answer says who answered and what it was asked, so that a test can tell which
server a request reached and what the proxy changed on the way:

    server=198.51.100.2:80 method=GET path=/ host=allowed.test sni=- proxy_headers=- connection=close

GET /big?n=N answers N bytes. A banner server speaks first (as an ssh server
does), then echoes. Every connection is appended to the --log file as
"ADDR:PORT kind", so a test can show that a server was never reached. The
--ready file appears once every socket listens.
"""
import argparse
import http.server
import socket
import socketserver
import ssl
import sys
import threading
import urllib.parse

LOG_LOCK = threading.Lock()


def log_connection(path, local, kind):
    with LOG_LOCK, open(path, "a") as f:
        f.write(f"{local[0]}:{local[1]} {kind}\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self):
        local = self.connection.getsockname()
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/big":
            n = int(urllib.parse.parse_qs(url.query).get("n", ["0"])[0])
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            chunk = b"x" * 65536
            while n > 0:
                self.wfile.write(chunk[: min(n, len(chunk))])
                n -= min(n, len(chunk))
            return
        length = int(self.headers.get("Content-Length", "0") or "0")
        body_in = self.rfile.read(length) if length else b""
        proxy_headers = ",".join(k for k in self.headers.keys() if k.lower().startswith("proxy-")) or "-"
        body = (
            f"server={local[0]}:{local[1]} method={self.command} path={self.path} "
            f"host={self.headers.get('Host', '-')} sni={getattr(self.server, 'sni_of', {}).get(self.connection, '-')} "
            f"proxy_headers={proxy_headers} connection={self.headers.get('Connection', '-')} "
            f"body={len(body_in)}\n"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_HEAD = do_CONNECT = answer


class HTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, log, tls=None):
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        self.log = log
        self.tls = tls
        self.sni_of = {}
        super().__init__(addr, Handler)

    def get_request(self):
        sock, peer = self.socket.accept()
        log_connection(self.log, sock.getsockname(), "https" if self.tls else "http")
        if self.tls:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, peer

    def finish_request(self, request, client_address):
        if self.tls:
            try:
                request.settimeout(10)
                request.do_handshake()
                self.sni_of[request] = getattr(request, "sni", None) or "-"
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)


def banner_server(addr, log):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(addr)
    sock.listen(16)

    def serve(conn):
        with conn:
            log_connection(log, conn.getsockname(), "banner")
            conn.sendall(b"SSH-2.0-au-test\r\n")
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)

    def loop():
        while True:
            conn, _ = sock.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", required=True)
    parser.add_argument("--ready", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("specs", nargs="+")
    args = parser.parse_args()

    tls = None
    if args.cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.cert, args.key)

        def remember_sni(sslsock, name, ctx):
            sslsock.sni = name

        tls.sni_callback = remember_sni

    for spec in args.specs:
        kind, rest = spec.split(":", 1)
        host, port = rest.rsplit(":", 1)
        addr = (host.strip("[]"), int(port))
        if kind == "banner":
            banner_server(addr, args.log)
            continue
        server = HTTPServer(addr, args.log, tls if kind == "https" else None)
        threading.Thread(target=server.serve_forever, daemon=True).start()

    with open(args.ready, "w") as f:
        f.write("ready\n")
    threading.Event().wait()


if __name__ == "__main__":
    sys.exit(main())
