#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Writes the fuzz_cert seed corpus: Certificate message bodies made by the local OpenSSL.

    tests/fuzz/corpus/mkcorpus_cert.py [CORPUS_DIR]

Each seed is what a TLS 1.2 server sends after the handshake header: a 3-byte list
length, then 3-byte-length-prefixed DER certificates, leaf first. The certificates
cover the shapes the decoder branches on: an RSA leaf from a local CA (the whole
chain), a self-signed EC leaf with DNS and IP SANs and a wildcard, Ed25519 with no
SANs, a SHA-1 signature on an RSA-1024 key, and a long SAN list. One seed is a bare
DER certificate, for the fuzzer's direct decode path. They go to CORPUS_DIR/cert.
"""
import os
import subprocess
import sys
import tempfile


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def der(tmp, pem):
    out = os.path.join(tmp, os.path.basename(pem) + ".der")
    openssl("x509", "-in", pem, "-outform", "DER", "-out", out)
    with open(out, "rb") as f:
        return f.read()


def self_signed(tmp, name, newkey, subj, exts=(), digest="sha256", days="30"):
    key, crt = os.path.join(tmp, name + ".key"), os.path.join(tmp, name + ".pem")
    args = ["req", "-x509", "-nodes", "-newkey", newkey, "-keyout", key, "-out", crt,
            "-days", days, "-subj", subj]
    if digest:
        args += ["-" + digest]
    for e in exts:
        args += ["-addext", e]
    openssl(*args)
    return key, crt


def issued(tmp, name, ca_key, ca_crt, subj, san):
    key, csr = os.path.join(tmp, name + ".key"), os.path.join(tmp, name + ".csr")
    crt, ext = os.path.join(tmp, name + ".pem"), os.path.join(tmp, name + ".ext")
    openssl("req", "-new", "-nodes", "-newkey", "rsa:2048", "-keyout", key, "-out", csr,
            "-subj", subj)
    with open(ext, "w") as f:
        f.write("subjectAltName=" + san + "\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
            "-out", crt, "-days", "30", "-sha256", "-extfile", ext)
    return crt


def message(*certs):
    body = b"".join(len(c).to_bytes(3, "big") + c for c in certs)
    return len(body).to_bytes(3, "big") + body


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(top, "cert")
    os.makedirs(out, exist_ok=True)
    seeds = {}
    with tempfile.TemporaryDirectory() as tmp:
        ca_key, ca_crt = self_signed(tmp, "ca", "rsa:2048", "/CN=tlsaudit fuzz CA",
                                     days="365")
        leaf = issued(tmp, "leaf", ca_key, ca_crt, "/CN=www.tlsaudit.test",
                      "DNS:www.tlsaudit.test,DNS:*.tlsaudit.test")
        seeds["rsa_chain"] = message(der(tmp, leaf), der(tmp, ca_crt))
        ec_param = os.path.join(tmp, "p256.param")
        openssl("ecparam", "-name", "prime256v1", "-out", ec_param)
        _, ec = self_signed(tmp, "ec", "ec:" + ec_param, "/O=tlsaudit/CN=ec.tlsaudit.test",
                            ["subjectAltName=DNS:ec.tlsaudit.test,DNS:*.ec.tlsaudit.test,"
                             "IP:192.0.2.1,IP:2001:db8::1"])
        seeds["ec_selfsigned"] = message(der(tmp, ec))
        _, ed = self_signed(tmp, "ed", "ed25519", "/CN=ed.tlsaudit.test", digest=None)
        seeds["ed25519_cn_only"] = message(der(tmp, ed))
        _, weak = self_signed(tmp, "weak", "rsa:1024", "/CN=weak.tlsaudit.test",
                              ["subjectAltName=DNS:weak.tlsaudit.test"], digest="sha1")
        seeds["rsa1024_sha1"] = message(der(tmp, weak))
        many = ",".join("DNS:h%03d.tlsaudit.test" % i for i in range(300))
        _, big = self_signed(tmp, "many", "ec:" + ec_param, "/CN=many.tlsaudit.test",
                             ["subjectAltName=" + many])
        seeds["many_sans"] = message(der(tmp, big))
        seeds["bare_der"] = der(tmp, ec)
    seeds["empty_list"] = b"\0\0\0"
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
