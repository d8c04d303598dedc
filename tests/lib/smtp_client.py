# SPDX-License-Identifier: GPL-2.0-only
"""SMTP clients (python smtplib) for the end-to-end tests of SMTP TLS outcomes.

    smtp_client.py ADDR PORT MODE

MODE, what the process does, and what it prints (one line per session, for the test to
check that the peers did what the case needs):
  starttls      EHLO, STARTTLS with a default context (no verification: the test server's
                certificate is self-signed), EHLO, a mail, QUIT      "starttls TLSv1.x"
  plain         EHLO, a mail, QUIT; ignores STARTTLS even when it is offered
                                                                     "plain offered=True|False"
  opportunistic as an MTA with smtp_tls_security_level = may: STARTTLS when it is offered;
                when the server does not offer it or refuses it (not 220), the mail goes
                in plaintext in the same session     "not offered" / "refused 454" / ...
  fallback      one process: STARTTLS with a TLS 1.0-only context; when the handshake fails,
                a second session to the same server sends the same mail in plaintext
                (opportunistic TLS giving up on encryption)
                                                     "tls failed: ..." then "plain ..."
Exit status 0 when the mail was accepted in the end.
"""
import smtplib
import ssl
import sys

FROM = "audit@client.tlsaudit.test"
TO = ["postmaster@mx.tlsaudit.test"]
MSG = "Subject: tlsaudit test\r\n\r\nhello\r\n"
HELO = "client.tlsaudit.test"


def context(legacy=False):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if legacy:
        ctx.set_ciphers("DEFAULT@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1
    return ctx


def session(addr, port):
    s = smtplib.SMTP(local_hostname=HELO, timeout=10)
    s.connect(addr, port)
    s._host = addr  # what starttls() gives as server_hostname: an address sends no SNI
    s.ehlo()
    return s


def send(s):
    s.sendmail(FROM, TO, MSG)
    s.quit()


def main():
    addr, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if mode == "starttls":
        s = session(addr, port)
        s.starttls(context=context())
        s.ehlo()
        print("starttls", s.sock.version(), flush=True)
        send(s)
    elif mode == "plain":
        s = session(addr, port)
        print("plain offered=%s" % s.has_extn("starttls"), flush=True)
        send(s)
    elif mode == "opportunistic":
        s = session(addr, port)
        if not s.has_extn("starttls"):
            print("not offered", flush=True)
        else:
            try:
                s.starttls(context=context())
                s.ehlo()
                print("starttls", s.sock.version(), flush=True)
            except smtplib.SMTPResponseException as e:
                # Not 220: the session goes on in plaintext (RFC 3207 section 4).
                print("refused", e.smtp_code, flush=True)
        send(s)
    elif mode == "fallback":
        s = session(addr, port)
        try:
            s.starttls(context=context(legacy=True))
            sys.exit("the TLS 1.0 handshake succeeded: the server must refuse it")
        except ssl.SSLError as e:
            print("tls failed:", e.reason, flush=True)
        s.close()
        s = session(addr, port)
        print("plain offered=%s" % s.has_extn("starttls"), flush=True)
        send(s)
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
