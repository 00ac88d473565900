"""A test HTTP server on 127.0.0.1 serving one folder, with Range requests and injected failures.

    with RangeServer(folder, cut_after=1000) as server:   # the first response stops after 1000 bytes
        fetch(Remote("a.zip", server.url + "/a.zip"), dest)

`cut_after` / `cuts`: the first `cuts` responses send only `cut_after` bytes of the body, then close the
connection (Content-Length still promises the whole); `refuse`: file names answered with 403;
`ignore_range`: answer 200 with the whole file even to a Range request. `requests` records (path, Range).
"""
import http.server
import os
import re
import threading


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        name = self.path.lstrip("/")
        server.requests.append((name, self.headers.get("Range")))
        path = os.path.join(server.folder, name)
        if name in server.refuse:
            return self.send_error(403, "Forbidden")
        if not os.path.isfile(path):
            return self.send_error(404, "Not Found")
        data = open(path, "rb").read()
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match and not server.ignore_range:
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.cuts > 0:
            server.cuts -= 1
            self.wfile.write(body[:server.cut_after])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


class RangeServer:
    def __init__(self, folder, cut_after=0, cuts=0, refuse=(), ignore_range=False):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.folder, self.httpd.refuse, self.httpd.ignore_range = str(folder), set(refuse), ignore_range
        self.httpd.cut_after, self.httpd.cuts = cut_after, cuts if cut_after else 0
        self.httpd.requests = []
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def requests(self):
        return self.httpd.requests

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
