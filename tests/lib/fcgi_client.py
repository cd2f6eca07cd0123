"""A small FastCGI client for tests (responder role, one request per
connection). It speaks the wire protocol directly so tests control every
byte: partial bodies, early disconnects, oversized streams."""

import socket
import struct

FCGI_VERSION = 1
BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 1, 2, 3, 4, 5, 6, 7
RESPONDER = 1


def _record(rtype, content, req_id=1):
    out = b""
    # A record carries at most 65535 bytes; split longer content.
    while True:
        chunk, content = content[:65535], content[65535:]
        pad = (8 - len(chunk) % 8) % 8
        out += struct.pack("!BBHHBx", FCGI_VERSION, rtype, req_id, len(chunk), pad)
        out += chunk + b"\0" * pad
        if not content:
            return out


def _nv(name, value):
    def ln(n):
        return bytes([n]) if n < 128 else struct.pack("!I", n | 0x80000000)
    return ln(len(name)) + ln(len(value)) + name + value


def encode_request(params, body=b"", stdin_chunks=None):
    data = _record(BEGIN_REQUEST, struct.pack("!HB5x", RESPONDER, 0))
    payload = b"".join(_nv(k.encode(), v.encode("utf-8", "surrogateescape") if isinstance(v, str) else v)
                       for k, v in params.items())
    data += _record(PARAMS, payload) + _record(PARAMS, b"")
    for chunk in (stdin_chunks if stdin_chunks is not None else [body]):
        if chunk:
            data += _record(STDIN, chunk)
    data += _record(STDIN, b"")
    return data


def connect(addr, timeout=10.0):
    """addr is (host, port) for TCP or a filesystem path for a unix socket."""
    if isinstance(addr, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(addr)
        return s
    host, port = addr
    return socket.create_connection((host, port), timeout=timeout)


def read_response(sock):
    buf = b""
    out = b""
    while True:
        while len(buf) < 8:
            d = sock.recv(65536)
            if not d:
                raise ConnectionError("connection closed before END_REQUEST")
            buf += d
        _, rtype, _, clen, pad = struct.unpack("!BBHHBx", buf[:8])
        while len(buf) < 8 + clen + pad:
            d = sock.recv(65536)
            if not d:
                raise ConnectionError("connection closed inside a record")
            buf += d
        content = buf[8:8 + clen]
        buf = buf[8 + clen + pad:]
        if rtype == STDOUT:
            out += content
        elif rtype == END_REQUEST:
            return out


def parse_cgi_response(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    status = 200
    headers = {}
    for line in head.split(b"\r\n"):
        name, _, value = line.decode().partition(":")
        value = value.strip()
        if name.lower() == "status":
            status = int(value.split()[0])
        else:
            headers.setdefault(name.lower(), value)
    return status, headers, body


def request(addr, method, path, headers=None, body=b"", query="", extra_params=None,
            timeout=10.0):
    params = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": path,
        "PATH_INFO": "",
        "QUERY_STRING": query,
        "REQUEST_URI": path + ("?" + query if query else ""),
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_LENGTH": str(len(body)),
    }
    for k, v in (headers or {}).items():
        if k.lower() == "content-type":
            params["CONTENT_TYPE"] = v
        else:
            params["HTTP_" + k.upper().replace("-", "_")] = v
    params.update(extra_params or {})
    s = connect(addr, timeout)
    try:
        s.sendall(encode_request(params, body))
        return parse_cgi_response(read_response(s))
    finally:
        s.close()
