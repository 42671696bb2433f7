"""A real HTTP server on 127.0.0.1 for hub tests: serves a folder, can cut a file short, and
counts requests."""
from __future__ import annotations

import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        cut = self.server.truncate.get(self.path.lstrip("/"))
        if cut is None:
            return super().do_GET()
        body = (Path(self.directory) / self.path.lstrip("/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))  # promise the whole file …
        self.end_headers()
        self.wfile.write(body[:cut])                        # … then hang up early
        self.wfile.flush()
        self.close_connection = True


class FileServer:
    """`with FileServer(root) as srv:` serves root at srv.url until the block ends."""

    def __init__(self, root: Path):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
        self.httpd.requests, self.httpd.truncate = [], {}
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def requests(self) -> list[str]:
        return self.httpd.requests

    def truncate(self, rel_path: str, nbytes: int) -> None:
        self.httpd.truncate[rel_path] = nbytes

    def __enter__(self) -> "FileServer":
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
