# SPDX-License-Identifier: GPL-2.0-only
"""A TCP server that takes a TLS ClientHello and never completes the handshake, for the
end-to-end tests of handshake outcomes.

    hello_server.py --addr 127.0.0.1 --port 443 --mode reset|silent

  reset   reads the whole ClientHello (its TLS record header gives the length), then
          closes with SO_LINGER 0: the kernel answers with a RST, as a server or a
          middlebox does that drops a client it will not serve.
  silent  reads whatever the client sends and never answers; closes its end only
          after the client has closed its own (so the client's FIN or RST is the first
          thing that ends the connection on the wire).

One thread per connection, until it is killed.
"""
import argparse
import socket
import struct
import sys
import threading


def read_hello(conn):
    """Reads one TLS record (the ClientHello); False when the client closed first."""
    buf = b""
    need = 5
    while len(buf) < need:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        buf += chunk
        if len(buf) >= 5 and need == 5:
            need = 5 + struct.unpack("!H", buf[3:5])[0]
    return True


def serve(conn, mode):
    try:
        if mode == "reset":
            read_hello(conn)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            while conn.recv(65536):
                pass
    except OSError:
        pass
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser(description="TCP server that never completes a handshake")
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--mode", choices=("reset", "silent"), required=True)
    args = ap.parse_args()
    family = socket.AF_INET6 if ":" in args.addr else socket.AF_INET
    lsock = socket.socket(family, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((args.addr, args.port))
    lsock.listen(16)
    while True:
        conn, _ = lsock.accept()
        threading.Thread(target=serve, args=(conn, args.mode), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
