"""A tiny service for the local target's tests (stdlib only, starts in ~30 ms).

Behaviour comes from values.yaml through the environment the target provides:
VALUE_MODE=ok (default) | unhealthy (/healthz answers 500) | exit (exits 3 at once);
VALUE_CHILD=1 starts a `sleep` child in the same process group (for group-kill tests).
GET /info returns the environment variables the target is expected to set, as JSON;
GET /crash makes the process exit with code 7 (to test supervision).
"""
import json
import os
import socket
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE = os.environ.get("VALUE_MODE", "ok")
if MODE == "exit":
    print("exiting on purpose", flush=True)
    sys.exit(3)
child = None
if os.environ.get("VALUE_CHILD") == "1":
    child = subprocess.Popen(["sleep", "300"])
    with open("child.pid", "a") as f:
        f.write(f"{child.pid}\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def _send(self, code, body, ctype="text/plain"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/healthz":
            return self._send(500 if MODE == "unhealthy" else 200, b"ok\n")
        if self.path == "/metrics":
            return self._send(200, b"up_test 1\n")
        if self.path == "/info":
            keys = [k for k in os.environ if k.startswith(("VALUE", "RECONCILER_", "PORT", "GREETING", "SECRET"))]
            info = {k: os.environ[k] for k in keys}
            info["cwd"] = os.getcwd()
            info["pid"] = os.getpid()
            return self._send(200, json.dumps(info).encode(), "application/json")
        if self.path == "/crash":
            self._send(200, b"bye\n")
            self.wfile.flush()
            os._exit(7)
        self._send(404, b"no\n")


print(f"listening on {os.environ['PORT']}", flush=True)
ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
