#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make run: starts build/tlsaudit daemon with its embedded defaults in the background,
# waits for its control socket, and shows `tlsaudit top` in the foreground. Quitting top
# (q or Ctrl-C) stops the daemon; its log stays in /run/tlsaudit/daemon.log.
#
# If a daemon already answers on the socket (tlsaudit.service), top attaches to it and
# nothing else is started. Generate traffic with `make demo` in another terminal.
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=$TOP/build/tlsaudit
RUNDIR=/run/tlsaudit
SOCK=${TLSAUDIT_SOCKET:-$RUNDIR/tlsaudit.sock}
LOG=$RUNDIR/daemon.log
TEXTFILE_DIR=/var/lib/node_exporter/textfile_collector

if [ "$(id -u)" != 0 ]; then
	echo "make run: the daemon needs root (eBPF capture, other users' /proc); run: sudo make run" >&2
	exit 1
fi
[ -x "$BIN" ] || { echo "make run: $BIN missing; run make first" >&2; exit 1; }

top_args=()
# Without a terminal (a pipe, CI) top prints plain screens instead of taking over a tty.
[ -t 1 ] || top_args=(-b -n "${RUN_ITERATIONS:-3}")

if "$BIN" status -S "$SOCK" >/dev/null 2>&1; then
	echo "make run: a daemon already answers on $SOCK; showing it"
	exec "$BIN" top -S "$SOCK" "${top_args[@]}"
fi

mkdir -p "$RUNDIR" /var/lib/tlsaudit || exit 1
args=(daemon --foreground --socket="$SOCK")
# The textfile goes to node_exporter's collector only where one is set up; the daemon
# would otherwise fail to write it every interval.
[ -d "$TEXTFILE_DIR" ] || args+=(--textfile=none)

"$BIN" "${args[@]}" >"$LOG" 2>&1 &
daemon=$!

stop() {
	if kill -0 "$daemon" 2>/dev/null; then
		kill -TERM "$daemon" 2>/dev/null
		wait "$daemon" 2>/dev/null
	fi
}
trap stop EXIT
trap 'exit 130' INT TERM

for ((i = 0; i < 100; i++)); do
	"$BIN" status -S "$SOCK" >/dev/null 2>&1 && break
	if ! kill -0 "$daemon" 2>/dev/null; then
		wait "$daemon"
		echo "make run: the daemon exited with status $? before it answered; $LOG:" >&2
		tail -n 20 "$LOG" >&2
		exit 1
	fi
	sleep 0.1
done
if ! "$BIN" status -S "$SOCK" >/dev/null 2>&1; then
	echo "make run: no answer on $SOCK after 10 s; $LOG:" >&2
	tail -n 20 "$LOG" >&2
	exit 1
fi

echo "make run: daemon pid $daemon, log $LOG; 'make demo' in another terminal makes traffic"
[ -t 1 ] && sleep 1
"$BIN" top -S "$SOCK" "${top_args[@]}"
rc=$?
# The daemon's start line says which backend runs and why.
[ -t 1 ] || head -n 5 "$LOG"
exit $rc
