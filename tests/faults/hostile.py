"""A hostile upstream on loopback: answers every HTTP request the way the
current mode says, to stand in for a broken Vault or KMS (issue 13).

Modes (set with .mode = ...; .status/.body tune 'ok' and 'burst'):
  ok       a well-formed reply (status, JSON body), keep-alive
  reset    read the request, send half a status line, then RST (SO_LINGER 0)
  half     headers announce N body bytes, half of them arrive, then close
  garbage  bytes that are not HTTP, then close
  huge     200 with a 50 MiB JSON body, streamed
  burst    cycles through 500, 502, 503 (one per request)
  stall    read the request, then say nothing for 10 s (or until closed)
With tls=(cert, key) the listener speaks TLS with that certificate.

Every request seen is counted in .hits; the server runs in a daemon thread
and stops at close()."""

import json
import socket
import ssl
import struct
import threading
import time

HUGE = 50 * 1024 * 1024


class Hostile:
    def __init__(self, port, tls=None):
        self.mode = "ok"
        self.status = 200
        self.body = {"data": {"data": {"k": "v"}, "metadata": {"version": 1}}}
        self.hits = 0
        self.stall_seconds = 10.0
        self.delay = 0.0           # seconds before an 'ok' reply
        self._burst = 0
        self._closing = False
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.port = port
        self.ctx = None
        if tls:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(tls[0], tls[1])
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", port)
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self._closing = True
        try:
            self.sock.close()
        except OSError:
            pass

    def _accept(self):
        while not self._closing:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    @staticmethod
    def _read_request(c):
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = c.recv(65536)
            if not d:
                return None
            buf += d
        head, rest = buf.split(b"\r\n\r\n", 1)
        n = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                n = int(v.strip() or 0)
        while len(rest) < n:
            d = c.recv(65536)
            if not d:
                return None
            rest += d
        return head

    def _serve(self, c):
        try:
            if self.ctx:
                try:
                    c = self.ctx.wrap_socket(c, server_side=True)
                except (ssl.SSLError, OSError):
                    c.close()
                    return
            c.settimeout(30)
            while not self._closing:
                head = self._read_request(c)
                if head is None:
                    break
                self.hits += 1
                if not self._answer(c):
                    break
        except OSError:
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass

    def _reply(self, status, body):
        data = json.dumps(body).encode()
        return (b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % (status, len(data))) + data

    def _answer(self, c):
        """Send what the mode says; False when the connection must end."""
        m = self.mode
        if m == "ok":
            if self.delay:
                time.sleep(self.delay)
            c.sendall(self._reply(self.status, self.body))
            return True
        if m == "burst":
            status = (500, 502, 503)[self._burst % 3]
            self._burst += 1
            c.sendall(self._reply(status, {"errors": ["burst %d" % status]}))
            return True
        if m == "reset":
            c.sendall(b"HTTP/1.1 20")
            raw = c.unwrap() if isinstance(c, ssl.SSLSocket) else c
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if m == "half":
            data = json.dumps({"data": {"data": {"k": "v" * 1000}}}).encode()
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(data) + data[:len(data) // 2])
            return False
        if m == "garbage":
            c.sendall(b"\x00\xff\x13garbage\r\n\r\n\x7fELF" + bytes(range(256)))
            return False
        if m == "huge":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % HUGE)
            chunk = b'{"data":"' + b"A" * (1024 * 1024 - 9)
            sent = 0
            while sent < HUGE:
                part = chunk[:min(len(chunk), HUGE - sent)]
                c.sendall(part)
                sent += len(part)
            return True
        if m == "stall":
            end = time.time() + self.stall_seconds
            c.settimeout(0.2)
            while time.time() < end and not self._closing:
                try:
                    if c.recv(1) == b"":
                        return False     # the client gave up and closed
                except socket.timeout:
                    continue
                except OSError:
                    return False
            return False
        raise ValueError("unknown mode %r" % m)
