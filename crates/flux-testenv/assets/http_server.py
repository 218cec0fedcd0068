#!/usr/bin/env python3
"""HTTP front for the test servers of flux-testenv, on 127.0.0.1 (or $TESTENV_BIND).

    http_server.py git    ROOT PORT_FILE   # smart HTTP git through `git http-backend` (CGI)
    http_server.py static ROOT PORT_FILE   # static files (a Helm repository)

It binds an ephemeral port and writes it to PORT_FILE once it listens, so the
caller never races for a port. Authentication comes from the environment:
TESTENV_BASIC_AUTH="user:password" and/or TESTENV_BEARER_TOKEN="token"; when
either is set, a request must carry a matching Authorization header or gets
401. With TESTENV_TLS_CERT and TESTENV_TLS_KEY (PEM files) it speaks HTTPS. Request bodies may use chunked transfer encoding (git sends large pushes
that way). The real work is done by git's own http-backend; this only carries
bytes between HTTP and CGI.
"""
import base64
import hmac
import os
import subprocess
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

MODE, ROOT, PORT_FILE = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
BASIC = os.environ.get("TESTENV_BASIC_AUTH")
BEARER = os.environ.get("TESTENV_BEARER_TOKEN")


def authorized(header):
    if not BASIC and not BEARER:
        return True
    header = header or ""
    if BASIC and hmac.compare_digest(header, "Basic " + base64.b64encode(BASIC.encode()).decode()):
        return True
    if BEARER and hmac.compare_digest(header, "Bearer " + BEARER):
        return True
    return False


class Handler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=ROOT, **kwargs)

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def deny(self):
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="flux-testenv"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    body = b"".join(parts)
                    sys.stderr.write("chunked request body: %d bytes\n" % len(body))
                    return body
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def git(self):
        body = self.read_body()
        path, _, query = self.path.partition("?")
        env = dict(
            os.environ,
            GIT_PROJECT_ROOT=ROOT,
            GIT_HTTP_EXPORT_ALL="1",
            REQUEST_METHOD=self.command,
            PATH_INFO=path,
            QUERY_STRING=query,
            CONTENT_TYPE=self.headers.get("Content-Type", ""),
            CONTENT_LENGTH=str(len(body)),
            REMOTE_USER=(BASIC or "anonymous").split(":")[0],
            REMOTE_ADDR=self.client_address[0],
            HTTP_CONTENT_ENCODING=self.headers.get("Content-Encoding", ""),
            GIT_PROTOCOL=self.headers.get("Git-Protocol", ""),
        )
        done = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True)
        if done.stderr:
            sys.stderr.write(done.stderr.decode(errors="replace"))
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode(errors="replace").split("\r\n"):
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers.append((key, value.strip()))
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):
        if not authorized(self.headers.get("Authorization")):
            self.read_body()
            return self.deny()
        if MODE == "git":
            return self.git()
        return super().do_GET()

    def do_HEAD(self):
        if not authorized(self.headers.get("Authorization")):
            return self.deny()
        return super().do_HEAD()

    def do_POST(self):
        if not authorized(self.headers.get("Authorization")):
            self.read_body()
            return self.deny()
        if MODE == "git":
            return self.git()
        self.send_error(405)


server = ThreadingHTTPServer((os.environ.get("TESTENV_BIND", "127.0.0.1"), 0), Handler)
if os.environ.get("TESTENV_TLS_CERT"):
    # HTTPS with the given certificate (TESTENV_TLS_CERT/KEY, PEM files).
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.environ["TESTENV_TLS_CERT"], os.environ["TESTENV_TLS_KEY"])
    if os.environ.get("TESTENV_TLS_CLIENT_CA"):
        # Mutual TLS: a client certificate of this CA is required.
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(os.environ["TESTENV_TLS_CLIENT_CA"])
    server.socket = context.wrap_socket(server.socket, server_side=True)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
