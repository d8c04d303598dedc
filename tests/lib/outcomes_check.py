# SPDX-License-Identifier: GPL-2.0-only
"""Checks handshake records against the cases of tests/lib/outcomes.sh.

    outcomes_check.py [--wait SECS] [--capture FILE] CASES NAME=RECORDS.json...

CASES has one case a line, tab-separated: name, SELECT (a python expression on r),
client pid, server pid ("-": no such local end) and the conditions, separated by spaces:
    FIELD=JSON  FIELD!=JSON  FIELD~=JSONLIST (one of)  FIELD=@wire (tshark's value)
    client.FIELD=... / server.FIELD=...   for that live end only
    wire.FIELD=...                        what tshark shows on the capture
Sources named "read..." are offline (one record per connection, role and pid null); the
others are live (one record per local end, with the pids of the case).

--wait SECS: only wait (at most SECS) until every live source has a record for each local
end of every case, then exit 0. Otherwise check and exit 1 with one line per assertion
that does not hold.

--capture FILE: tshark's view of each TCP connection with a ClientHello (the wire oracle):
the first of a fatal alert in the clear, a RST or a FIN after the ClientHello, by whom, or
"established" once both sides finished, else "timeout". TLS 1.2 and older: both sides
sent their ChangeCipherSpec. TLS 1.3, where tshark sees only sealed records and their
lengths: the client's flight after the ServerHello opens with a Finished (45 to 96
bytes), or the server answered a longer flight with anything but one alert-sized
record (at most 24 bytes) followed by a FIN or RST; the server's alert (description
null) when it did; the client's alert when its only record was alert-sized and it then
closed.
"""
import ipaddress
import json
import subprocess
import sys
import time

ALERTS = {0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac",
          21: "decryption_failed", 22: "record_overflow", 30: "decompression_failure",
          40: "handshake_failure", 41: "no_certificate", 42: "bad_certificate",
          43: "unsupported_certificate", 44: "certificate_revoked", 45: "certificate_expired",
          46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca",
          49: "access_denied", 50: "decode_error", 51: "decrypt_error",
          60: "export_restriction", 70: "protocol_version", 71: "insufficient_security",
          80: "internal_error", 86: "inappropriate_fallback", 90: "user_canceled",
          100: "no_renegotiation", 109: "missing_extension", 110: "unsupported_extension",
          112: "unrecognized_name", 113: "bad_certificate_status_response",
          115: "unknown_psk_identity", 116: "certificate_required",
          120: "no_application_protocol"}

FIELDS = ["frame.number", "tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst",
          "ipv6.dst", "tcp.dstport", "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin",
          "tcp.flags.reset", "tls.record.content_type", "tls.alert_message.level",
          "tls.alert_message.desc", "tls.handshake.type", "smtp.req.command",
          "tls.record.opaque_type", "tls.record.length",
          "tls.handshake.extensions.supported_version"]

# TLS 1.3 record lengths (RFC 8446 5.2): a sealed alert is 2 + 1 + the AEAD tag (19, or
# 11 with CCM_8); a sealed Finished 4 + 32 or 48 + 1 + the tag, and a little padding.
ALERT_MAX = 24
FINISHED = (45, 96)

SHOWN = ("role", "pid", "comm", "client_port", "version", "outcome", "outcome_by", "alert",
         "smtp_tls", "mx_host", "plaintext_fallback")


def addr(a):
    return str(ipaddress.ip_address(a))


def tuple_of(r):
    return (addr(r["client_ip"]), int(r["client_port"]), addr(r["server_ip"]),
            int(r["server_port"]))


def load(path, errors=None):
    """The records of a JSON-lines file; lines that do not parse go to errors (while a
    live watch runs, its last line may be half written: errors is None then)."""
    recs = []
    try:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    recs.append(json.loads(line))
                except ValueError as e:
                    if errors is not None:
                        errors.append("%s line %d is not JSON (%s): %s" % (
                            path, n, e, line.strip()[:160]))
    except FileNotFoundError:
        if errors is not None:
            errors.append("%s: no such file" % path)
    return recs


def parse_cases(path):
    cases = []
    for line in open(path):
        line = line.rstrip("\n")
        if not line:
            continue
        name, select, cpid, spid, conds = line.split("\t")
        parsed = []
        for c in conds.split():
            for op in ("!=", "~=", "="):
                if op in c:
                    field, _, val = c.partition(op)
                    break
            else:
                raise SystemExit("bad condition %r in case %s" % (c, name))
            scope = None
            if "." in field:
                scope, field = field.split(".", 1)
            if val == "@wire":
                parsed.append((scope, field, "wire", None))
            else:
                parsed.append((scope, field, op, json.loads(val)))
        pids = {}
        if cpid != "-":
            pids["client"] = int(cpid)
        if spid != "-":
            pids["server"] = int(spid)
        cases.append({"name": name, "select": select, "pids": pids, "conds": parsed})
    return cases


def matching(recs, select):
    out = []
    for r in recs:
        try:
            if eval(select, {}, {"r": r}):
                out.append(r)
        except (KeyError, TypeError, ValueError):
            pass
    return out


def wait(cases, sources, secs):
    deadline = time.time() + secs
    while True:
        missing = []
        for name, path in sources:
            recs = load(path)
            for c in cases:
                hits = matching(recs, c["select"])
                for role in c["pids"]:
                    if not any(r.get("role") == role for r in hits):
                        missing.append((name, c["name"], role))
        if not missing or time.time() > deadline:
            return
        time.sleep(0.2)


def oracle13(s, by, end):
    """TLS 1.3 after this frame from @by (@end: it carried a FIN or RST): decided?"""
    c = s["sealed"]["client"]
    if not s["flight"]:
        if c and (len(c) > 1 or c[0] > ALERT_MAX):
            s["flight"] = True
            s["after"] = len(s["sealed"]["server"])
            if FINISHED[0] <= c[0] <= FINISHED[1]:
                s["outcome"] = "established"
                return True
        elif len(c) == 1 and by == "client" and end:
            s["outcome"], s["outcome_by"] = "alert", "client"
            return True
        else:
            srv = s["sealed"]["server"]
            if not c and len(srv) == 1 and srv[0] <= ALERT_MAX and by == "server" and end:
                s["outcome"], s["outcome_by"] = "alert", "server"
                return True
            return False
    answer = s["sealed"]["server"][s["after"]:]
    if len(answer) > 1 or (answer and answer[0] > ALERT_MAX):
        s["outcome"] = "established"
        return True
    if answer:
        if s["answer"] is None:
            s["answer"] = len(c)
        if len(c) > s["answer"]:
            s["outcome"] = "established"
            return True
        if end:
            s["outcome"], s["outcome_by"] = "alert", "server"
            return True
        return False
    if end:
        s["outcome"] = "established"
        return True
    return False


def oracle(capture):
    """tshark's view of every TCP connection that carried a ClientHello."""
    args = ["tshark", "-n", "-r", capture, "-T", "fields", "-E", "separator=/t",
            "-E", "occurrence=a", "-E", "aggregator=;"]
    for f in FIELDS:
        args += ["-e", f]
    out = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         universal_newlines=True, check=True).stdout
    streams = {}
    for line in out.splitlines():
        row = dict(zip(FIELDS, line.split("\t")))

        def vals(name):
            return [x for x in row.get(name, "").split(";") if x != ""]

        sid = row.get("tcp.stream", "")
        if sid == "":
            continue
        src = (vals("ip.src") or vals("ipv6.src") or [""])[0]
        dst = (vals("ip.dst") or vals("ipv6.dst") or [""])[0]
        sport, dport = int(row["tcp.srcport"]), int(row["tcp.dstport"])
        s = streams.setdefault(sid, {"client": None, "ch": False, "sh": False,
                                     "starttls": None, "outcome": None,
                                     "outcome_by": None, "alert": None, "tls13": False,
                                     "ccs": set(), "sealed": {"client": [], "server": []},
                                     "flight": False, "answer": None, "after": 0})
        syn = vals("tcp.flags.syn") in (["1"], ["True"])
        ack = vals("tcp.flags.ack") in (["1"], ["True"])
        types = vals("tls.handshake.type")
        if s["client"] is None and ((syn and not ack) or "1" in types):
            s["client"] = (addr(src), sport)
            s["server"] = (addr(dst), dport)
        if s["client"] is None:
            continue
        if any(c.upper().startswith("STAR") for c in vals("smtp.req.command")):
            s["starttls"] = "smtp"
        by = "client" if (addr(src), sport) == s["client"] else "server"
        if "1" in types and by == "client":
            s["ch"] = True
        sh_now = "2" in types and by == "server" and not s["sh"]
        if sh_now:
            s["sh"] = True
            s["tls13"] = "0x0304" in vals("tls.handshake.extensions.supported_version")
        if not s["ch"] or s["outcome"] is not None:
            continue
        levels = vals("tls.alert_message.level")
        descs = vals("tls.alert_message.desc")
        ctypes = vals("tls.record.content_type")
        # Sealed records follow a frame's records in the clear (TLS 1.3): the last
        # lengths are theirs.
        lengths = [int(x) for x in vals("tls.record.length")]
        nsealed = len(vals("tls.record.opaque_type"))
        sealed = lengths[len(lengths) - nsealed:] if nsealed else []
        end = vals("tcp.flags.reset") in (["1"], ["True"]) or \
            vals("tcp.flags.fin") in (["1"], ["True"])
        if s["sh"] and s["tls13"]:
            # The client's early data, sent before the ServerHello, is left out.
            s["sealed"][by] += sealed
        if "20" in ctypes and s["sh"]:
            s["ccs"].add(by)
        if "2" in levels:
            d = int(descs[levels.index("2")], 0) if descs else None
            s["outcome"], s["outcome_by"] = "alert", by
            s["alert"] = ALERTS.get(d, d)
            continue
        if s["sh"] and not s["tls13"] and s["ccs"] == {"client", "server"}:
            s["outcome"] = "established"
            continue
        if s["sh"] and s["tls13"] and oracle13(s, by, end):
            continue
        if vals("tcp.flags.reset") in (["1"], ["True"]):
            s["outcome"], s["outcome_by"] = "reset", by
        elif vals("tcp.flags.fin") in (["1"], ["True"]):
            s["outcome"], s["outcome_by"] = "closed", by
    result = []
    for s in streams.values():
        if not s["ch"]:
            continue
        if s["outcome"] is None:
            s["outcome"] = "timeout"
        result.append({"client_ip": s["client"][0], "client_port": s["client"][1],
                       "server_ip": s["server"][0], "server_port": s["server"][1],
                       "starttls": s["starttls"], "outcome": s["outcome"],
                       "outcome_by": s["outcome_by"], "alert": s["alert"]})
    return result


def show(v):
    return json.dumps(v)


def main():
    argv = sys.argv[1:]
    wait_secs = None
    capture = None
    while argv and argv[0].startswith("--"):
        opt = argv.pop(0)
        if opt == "--wait":
            wait_secs = float(argv.pop(0))
        elif opt == "--capture":
            capture = argv.pop(0)
        else:
            raise SystemExit("unknown option " + opt)
    cases = parse_cases(argv[0])
    sources = [tuple(a.split("=", 1)) for a in argv[1:]]
    if wait_secs is not None:
        wait(cases, [s for s in sources if not s[0].startswith("read")], wait_secs)
        return 0

    errors = []
    wire = oracle(capture) if capture else []
    table = []
    records = {src: load(path, errors) for src, path in sources}
    for c in cases:
        name = c["name"]
        tuples = {}
        ends = {}
        for src, path in sources:
            recs = matching(records[src], c["select"])
            offline = src.startswith("read")
            roles = [None] if offline else sorted(c["pids"])
            for role in roles:
                hits = [r for r in recs if r.get("role") == role]
                label = "[%s] %s%s" % (src, name, "" if role is None else " " + role)
                if len(hits) != 1:
                    errors.append("%s: %d records, want 1; the case's records in %s: %s" % (
                        label, len(hits), src,
                        "; ".join(json.dumps({k: r.get(k) for k in SHOWN + ("server_ip",)})
                                  for r in recs) or "none"))
                    continue
                r = hits[0]
                ends[(src, role)] = r
                table.append((name, src, r))
                try:
                    tuples.setdefault(tuple_of(r), []).append(src + ("" if role is None else
                                                                     "/" + role))
                except (KeyError, TypeError, ValueError) as e:
                    errors.append("%s: no usable endpoints (%s)" % (label, e))
                want_pid = None if offline else c["pids"].get(role)
                if r.get("pid") != want_pid:
                    errors.append("%s: pid %s, want %s" % (label, show(r.get("pid")),
                                                            show(want_pid)))
        # One connection per case: the same 4-tuple in every source.
        if len(tuples) > 1:
            errors.append("%s: the sources report different connections: %s" % (
                name, "; ".join("%s in %s" % (k, ",".join(v)) for k, v in tuples.items())))
        # tshark's view of that connection.
        w = None
        if capture and tuples:
            key = sorted(tuples, key=lambda k: -len(tuples[k]))[0]
            ws = [o for o in wire if tuple_of(o) == key]
            w = ws[0] if ws else None
        elif capture:
            ws = matching(wire, c["select"])
            w = ws[0] if len(ws) == 1 else None
        for scope, field, op, want in c["conds"]:
            if scope == "wire":
                if not capture:
                    continue
                if w is None:
                    errors.append("%s: tshark sees no ClientHello on the case's connection "
                                  "(the peers did not do what the case needs)" % name)
                    continue
                have = w.get(field)
                ok = have == want if op == "=" else have != want if op == "!=" \
                    else have in want
                if not ok:
                    errors.append("%s: the capture shows %s %s, the case needs %s%s "
                                  "(a peer problem, not tlsaudit's)" % (
                                      name, field, show(have), op.strip("="), show(want)))
                continue
            for (src, role), r in sorted(ends.items(), key=lambda e: (e[0][0], str(e[0][1]))):
                if scope is not None and scope != role:
                    continue
                label = "[%s] %s%s" % (src, name, "" if role is None else " " + role)
                have = r.get(field, "<missing>")
                if op == "wire":
                    if w is None:
                        continue
                    want_v = w.get(field)
                    ok = have == want_v
                    desc = "%s (what the capture shows)" % show(want_v)
                elif op == "=":
                    ok, desc = have == want, show(want)
                elif op == "!=":
                    ok, desc = have != want, "not " + show(want)
                else:
                    ok, desc = have in want, "one of " + show(want)
                if not ok:
                    errors.append("%s: %s %s, want %s" % (label, field, show(have), desc))

    # A ClientHello never disappears: every connection tshark sees with one has exactly one
    # offline record, whose outcome is what the wire shows.
    for src, _ in sources:
        if not src.startswith("read"):
            continue
        by_tuple = {}
        for r in records[src]:
            try:
                by_tuple.setdefault(tuple_of(r), []).append(r)
            except (KeyError, TypeError, ValueError):
                pass
        for o in wire:
            k = tuple_of(o)
            got = by_tuple.get(k, [])
            if len(got) != 1:
                errors.append("[%s] connection %s with a ClientHello: %d records, want 1" % (
                    src, k, len(got)))
                continue
            for f in ("outcome", "outcome_by", "alert"):
                if got[0].get(f) != o[f]:
                    errors.append("[%s] connection %s: %s %s, the capture shows %s" % (
                        src, k, f, show(got[0].get(f)), show(o[f])))

    print("%-16s %-5s %-6s %-7s %-7s %-7s %-11s %-7s %-17s %-11s %-24s %s" % (
        "case", "src", "role", "pid", "comm", "version", "outcome", "by", "alert",
        "smtp_tls", "mx_host", "fallback"))
    for name, src, r in table:
        print("%-16s %-5s %-6s %-7s %-7s %-7s %-11s %-7s %-17s %-11s %-24s %s" % (
            name, src, r.get("role") or "-", r.get("pid") or "-", (r.get("comm") or "-")[:7],
            r.get("version") or "-", r.get("outcome") or "-", r.get("outcome_by") or "-",
            r.get("alert") or "-", r.get("smtp_tls") or "-", r.get("mx_host") or "-",
            show(r.get("plaintext_fallback"))))
    for e in errors:
        print("FAIL: " + e, file=sys.stderr)
    print("%d cases, %d sources, %d failed assertions" % (len(cases), len(sources), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
