#!/usr/bin/env python3
"""The part of ClickHouse's HTTP interface that Tyto's ClickHouse store uses, served
over chdb (a current ClickHouse engine, in process), so that the store's tests run the
same SQL on a current ClickHouse as on Debian's 18.16 server.

Usage: chdb-server.py DIR PORT  (data in DIR; listens on 127.0.0.1:PORT)

A request is a POST to / with `database` and settings in the URL, and either the SQL
as the body or, for an insert, the SQL in `query` and the rows as the body. Errors
answer 500 with ClickHouse's own text ("Code: N. DB::Exception: ..."), as a server
does. Queries run one at a time (one chdb session).
"""

import os
import sys
import tempfile
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from chdb import session as chs

DATA_DIR, PORT = sys.argv[1], int(sys.argv[2])
SESSION = chs.Session(os.path.join(DATA_DIR, "chdb"))
LOCK = threading.Lock()
# URL parameters that are not settings.
NOT_SETTINGS = {"database", "query", "query_id", "user", "password"}


def run(sql):
    return SESSION.query(sql, "TabSeparated").bytes()


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if urllib.parse.urlsplit(self.path).path == "/ping":
            self.answer(200, b"Ok.\n")
        else:
            self.answer(404, b"Code: 0. only POST / and GET /ping are served here\n")

    def do_POST(self):
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        sql = params.get("query")
        data_file = None
        if sql is None:
            sql = body.decode("utf-8")
        elif body:
            # An insert's rows: ClickHouse in process reads them from a file.
            fmt_at = sql.upper().rfind(" FORMAT ")
            if not sql.lstrip().upper().startswith("INSERT") or fmt_at < 0:
                self.answer(400, b"Code: 62. DB::Exception: rows in the body need an INSERT ... FORMAT\n")
                return
            fd, data_file = tempfile.mkstemp(dir=DATA_DIR, suffix=".rows")
            with os.fdopen(fd, "wb") as f:
                f.write(body)
            sql = f"{sql[:fmt_at]} FROM INFILE '{data_file}'{sql[fmt_at:]}"
        try:
            with LOCK:
                database = params.get("database")
                if database:
                    try:
                        run(f"USE `{database}`")
                    except Exception:
                        pass  # not made yet: the statement names it, or fails
                for key, value in params.items():
                    if key not in NOT_SETTINGS and key.replace("_", "").isalnum():
                        run("SET {} = '{}'".format(key, value.replace("\\", "\\\\").replace("'", "\\'")))
                out = run(sql)
            self.answer(200, out)
        except Exception as e:  # ClickHouse's own message, with its code
            self.answer(500, (str(e).strip() + "\n").encode("utf-8", "replace"))
        finally:
            if data_file:
                os.unlink(data_file)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
