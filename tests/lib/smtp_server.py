# SPDX-License-Identifier: GPL-2.0-only
"""A small SMTP server with STARTTLS (RFC 3207) for the end-to-end tests.

    smtp_server.py --addr 127.0.0.1 --port 25 --cert server.crt --key server.key
                   [--tls-min V] [--tls-max 1.0|1.1|1.2|1.3] [--seclevel0]
                   [--no-starttls | --refuse-starttls [CODE]] [--hostname NAME]

--hostname is the name of the 220 greeting and of the EHLO reply (default
mail.tlsaudit.test). --no-starttls leaves STARTTLS out of the EHLO reply (and answers 502
to it); --refuse-starttls offers it but answers CODE (default 454, "TLS not available due
to temporary reason", RFC 3207 section 4) and goes on in plaintext.

It speaks enough of RFC 5321 (EHLO/HELO, STARTTLS, MAIL, RCPT, DATA, RSET, NOOP, QUIT) for
smtplib, `openssl s_client -starttls smtp`, swaks or a real MTA to deliver a message, and
serves connections one thread each until it is killed. Messages are discarded.
"""
import argparse
import socket
import ssl
import sys
import threading

TLS_VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}


class Session:
    def __init__(self, conn, ctx, hostname, refuse=None):
        self.sock = conn
        self.ctx = ctx
        self.hostname = hostname
        self.refuse = refuse
        self.tls = False
        self.rbuf = b""

    def send(self, line):
        self.sock.sendall(line.encode() + b"\r\n")

    def readline(self):
        while b"\r\n" not in self.rbuf:
            chunk = self.sock.recv(4096)
            if not chunk:
                return None
            self.rbuf += chunk
            if len(self.rbuf) > 65536:
                return None
        line, self.rbuf = self.rbuf.split(b"\r\n", 1)
        return line.decode("latin-1")

    def ehlo(self, arg):
        exts = ["PIPELINING", "SIZE 10240000", "8BITMIME"]
        if (self.ctx is not None or self.refuse) and not self.tls:
            exts.append("STARTTLS")
        lines = ["%s greets %s" % (self.hostname, arg or "client")] + exts
        for i, text in enumerate(lines):
            sep = " " if i == len(lines) - 1 else "-"
            self.send("250%s%s" % (sep, text))

    def data(self):
        self.send("354 End data with <CR><LF>.<CR><LF>")
        while True:
            line = self.readline()
            if line is None:
                return False
            if line == ".":
                break
        self.send("250 2.0.0 Ok: queued")
        return True

    def run(self):
        self.send("220 %s ESMTP tlsaudit-test" % self.hostname)
        while True:
            line = self.readline()
            if line is None:
                return
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if verb in ("EHLO", "HELO"):
                if verb == "HELO":
                    self.send("250 %s" % self.hostname)
                else:
                    self.ehlo(arg)
            elif verb == "STARTTLS" and self.refuse and not self.tls:
                self.send("%s %s.7.0 TLS not available due to temporary reason" %
                          (self.refuse, self.refuse[0]))
            elif verb == "STARTTLS" and self.ctx is not None and not self.tls:
                # RFC 3207 section 4: the reply, then the handshake; pipelined
                # bytes before the handshake must be discarded.
                self.send("220 2.0.0 Ready to start TLS")
                self.rbuf = b""
                try:
                    self.sock = self.ctx.wrap_socket(self.sock, server_side=True)
                except (ssl.SSLError, OSError):
                    return
                self.tls = True
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                self.send("250 2.1.0 Ok")
            elif verb == "DATA":
                if not self.data():
                    return
            elif verb == "QUIT":
                self.send("221 2.0.0 Bye")
                return
            else:
                self.send("502 5.5.2 Command not recognized")


def serve(conn, ctx, hostname, refuse):
    try:
        Session(conn, ctx, hostname, refuse).run()
    except (OSError, ssl.SSLError, UnicodeError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser(description="SMTP server with STARTTLS for tests")
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=25)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--hostname", default="mail.tlsaudit.test")
    ap.add_argument("--tls-min", choices=TLS_VERSIONS.keys())
    ap.add_argument("--tls-max", choices=TLS_VERSIONS.keys())
    ap.add_argument("--seclevel0", action="store_true",
                    help="allow TLS 1.0/1.1 and legacy suites (OpenSSL security level 0)")
    ap.add_argument("--no-starttls", action="store_true")
    ap.add_argument("--refuse-starttls", nargs="?", const="454", metavar="CODE",
                    help="offer STARTTLS but answer CODE (default 454) to it")
    args = ap.parse_args()

    ctx = None
    if not args.no_starttls and not args.refuse_starttls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if args.seclevel0:
            ctx.set_ciphers("DEFAULT@SECLEVEL=0")
            ctx.minimum_version = ssl.TLSVersion.TLSv1
        if args.tls_min:
            ctx.minimum_version = TLS_VERSIONS[args.tls_min]
        if args.tls_max:
            ctx.maximum_version = TLS_VERSIONS[args.tls_max]
        ctx.load_cert_chain(args.cert, args.key)

    family = socket.AF_INET6 if ":" in args.addr else socket.AF_INET
    lsock = socket.socket(family, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((args.addr, args.port))
    lsock.listen(16)
    while True:
        conn, _ = lsock.accept()
        threading.Thread(target=serve, args=(conn, ctx, args.hostname, args.refuse_starttls),
                         daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
