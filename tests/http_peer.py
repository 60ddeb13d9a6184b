# A recording HTTP server for the `wirekit http` / `fetch` tests (Python stdlib only).
# Usage: python3 http_peer.py PORT DATAFILE (PORT 0: any free port; the port in use is
# announced on stdout as `listening on 127.0.0.1:PORT` once the socket listens).
# Every answer tells what the server received, so tests can compare wirekit with curl.
import base64, email.parser, http.server, json, os, socket, sys, threading, time

PORT = int(sys.argv[1])
DATA = open(sys.argv[2], "rb").read() if len(sys.argv) > 2 else b"x" * 1000
counts = {}
lock = threading.Lock()


def bump(key):
    with lock:
        counts[key] = counts.get(key, 0) + 1
        return counts[key]


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def handle(self):
        bump("conns")
        # /flaky: the first two connections are dropped before any answer.
        try:
            peek = self.connection.recv(1024, socket.MSG_PEEK)
        except (OSError, ValueError):  # TLS sockets cannot peek
            peek = b""
        if b" /flaky" in peek.split(b"\r\n", 1)[0] and bump("flaky-conn") <= 2:
            self.connection.recv(65536)
            self.connection.close()
            return
        super().handle()

    def send(self, status, body, ctype="application/json", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def echo(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        doc = {
            "method": self.command,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body": base64.b64encode(body).decode(),
        }
        getpeercert = getattr(self.connection, "getpeercert", None)
        if getpeercert and getpeercert():
            subject = dict(x[0] for x in getpeercert()["subject"])
            doc["client_cn"] = subject.get("commonName")
        ct = self.headers.get("Content-Type", "")
        if ct.startswith("multipart/form-data"):
            msg = email.parser.BytesParser().parsebytes(
                b"Content-Type: " + ct.encode() + b"\r\n\r\n" + body
            )
            doc["parts"] = [
                [p.get_param("name", header="content-disposition"),
                 p.get_param("filename", header="content-disposition"),
                 p.get_content_type() if p.get("Content-Type") else None,
                 base64.b64encode(p.get_payload(decode=True) or b"").decode()]
                for p in msg.get_payload()
            ]
        self.send(200, json.dumps(doc).encode())

    def route(self):
        p = self.path.split("?")[0]
        if p.startswith("http://"):  # asked as a forward proxy
            p = "/" + p.split("/", 3)[3] if p.count("/") >= 3 else "/"
        if p.startswith("/echo"):
            return self.echo()
        if p == "/flaky":
            n = bump("flaky")
            if n == 1:
                return self.send(503, b"busy", "text/plain", [("Retry-After", "1")])
            return self.send(200, b'{"ok":true,"attempt":%d}' % (n + 2))
        if p.startswith("/conc"):
            with lock:
                counts["active"] = counts.get("active", 0) + 1
                counts["max"] = max(counts.get("max", 0), counts["active"])
            time.sleep(0.05)  # hold the request so that concurrent ones overlap
            with lock:
                counts["active"] -= 1
            return self.send(200, b"ok", "text/plain")
        if p == "/maxconc":
            return self.send(200, str(counts.get("max", 0)).encode(), "text/plain")
        if p == "/conns":
            return self.send(200, str(counts.get("conns", 0)).encode(), "text/plain")
        if p == "/count":
            return self.send(200, str(counts.get("flaky-conn", 0)).encode(), "text/plain")
        if p == "/json":
            return self.send(200, b'{"b":1,"a":[true,null,"x"]}')
        if p.startswith("/status/"):
            return self.send(int(p.split("/")[2]), b"status", "text/plain",
                             [("Location", "/echo")] if p.split("/")[2].startswith("3") else [])
        if p.startswith("/redirect"):
            return self.send(302, b"", "text/plain", [("Location", "/echo/landed")])
        if p == "/slow":
            time.sleep(5)  # slower than the clients' --timeout: the point of /slow
            return self.send(200, b"late", "text/plain")
        if p.startswith("/ok/"):
            return self.send(200, b"hello " + p.encode(), "text/plain")
        if p == "/named":
            return self.send(200, DATA, "application/octet-stream",
                             [("Content-Disposition", 'attachment; filename="report.bin"')])
        if p in ("/blob", "/half", "/trickle"):
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes="):
                start = int(rng[6:].split("-")[0])
                if start >= len(DATA):
                    return self.send(416, b"", "text/plain",
                                     [("Content-Range", "bytes */%d" % len(DATA))])
                part = DATA[start:]
                return self.send(206, part, "application/octet-stream",
                                 [("Content-Range", "bytes %d-%d/%d" % (start, len(DATA) - 1, len(DATA)))])
            if p == "/half":
                # Promise everything, send half, hang up.
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(DATA)))
                self.end_headers()
                self.wfile.write(DATA[: len(DATA) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if p == "/trickle":
                # A quarter at once, then 4 KiB every 0.2 s: a download slow enough to stop.
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(DATA)))
                self.end_headers()
                at = len(DATA) // 4
                try:
                    self.wfile.write(DATA[:at])
                    self.wfile.flush()
                    while at < len(DATA):
                        time.sleep(0.2)
                        self.wfile.write(DATA[at:at + 4096])
                        self.wfile.flush()
                        at += 4096
                except OSError:
                    pass
                self.close_connection = True
                return
            return self.send(200, DATA, "application/octet-stream")
        return self.send(404, b"not found", "text/plain")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = route


class S(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


server = S(("127.0.0.1", PORT), H)
if os.environ.get("PEER_CERT"):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.environ["PEER_CERT"], os.environ["PEER_KEY"])
    if os.environ.get("PEER_CLIENT_CA"):
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(os.environ["PEER_CLIENT_CA"])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
print("listening on 127.0.0.1:%d" % server.server_address[1], flush=True)
server.serve_forever()
