/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Process attribution: from a pid to the identity an operator recognises (comm, exe,
 * uid, cgroup, systemd unit, container id) and the TLS library mapped into it.
 * Resolved from /proc when the owner is first seen and cached by (pid, start time), so a
 * process that exits right after its handshake is still named.
 */
#ifndef TLSAUDIT_ATTRIB_H
#define TLSAUDIT_ATTRIB_H

#include <stddef.h>
#include <stdint.h>

#include "tlsaudit/record.h"

struct attrib_cache;

/* Cache counters, for `tlsaudit status` and the exporter. */
struct attrib_stats {
	uint64_t hits;	    /* same pid and start time: answered from the cache */
	uint64_t resolves;  /* full reads of /proc/PID */
	uint64_t exited;    /* answered from the cache after the process was gone */
	uint64_t evictions; /* entries dropped to stay under max_entries */
	uint64_t entries;   /* entries held now */
	uint64_t maps_lines;	/* /proc/PID/maps lines read for the TLS library */
	uint64_t maps_deferred; /* maps reads put off: the budget below was spent */
	uint64_t exe_hits;	/* TLS library taken from another process of the same program */
};

/*
 * The maps read of a new process is paid from a token bucket of lines (see
 * attrib_cache__resolve): ATTRIB_MAPS_RATE a second, ATTRIB_MAPS_BURST at most in hand,
 * ATTRIB_MAPS_LINES at most per read (vm.max_map_count is 65530 by default).
 */
#define ATTRIB_MAPS_RATE 65536
#define ATTRIB_MAPS_BURST 131072
#define ATTRIB_MAPS_LINES 65536

/*
 * The TLS library a program's processes map, by executable file (device, inode,
 * modification time): a program started again and again (a curl per cron job, a CGI per
 * request, a forking server's children) reads maps once per ATTRIB_EXE_TTL_NS, not once
 * a process. Libraries are what the executable links; one a process loads later
 * (dlopen) is seen by the next read after the entry expires.
 */
#define ATTRIB_EXE_LIBS 128
#define ATTRIB_EXE_TTL_NS (600 * NSEC_PER_SEC)

/* Entries held when attrib_cache__new() is given 0. */
#define ATTRIB_CACHE_DEFAULT 4096

/*
 * attrib_cache__new - @proc_root is normally "/proc" (tests point it elsewhere);
 * @max_entries 0 means ATTRIB_CACHE_DEFAULT. NULL and errno on failure.
 */
struct attrib_cache *attrib_cache__new(const char *proc_root, size_t max_entries);
void attrib_cache__free(struct attrib_cache *ac);

/* attrib_cache__stats - copy the counters. */
void attrib_cache__stats(const struct attrib_cache *ac, struct attrib_stats *st);

/*
 * attrib_cache__resolve - fill @out for @pid, from the cache when the same process
 * (pid and start time) was resolved before, else from /proc. 0, or -ESRCH when the
 * process is gone and was never seen. Fields /proc does not show (exe and maps
 * need ptrace access) are left empty; an unreadable uid is UINT32_MAX. tls_lib is also
 * empty while the maps budget is spent; a later resolve of the process fills it.
 */
int attrib_cache__resolve(struct attrib_cache *ac, uint32_t pid, struct hs_proc *out);

/*
 * attrib_cache__resolve_cg - attrib_cache__resolve() for a process the kernel saw in
 * cgroup @cgroup_id (the socket owner's; 0: unknown): cgroup, unit and container come
 * from the last process resolved in that cgroup, without reading /proc/PID/cgroup.
 */
int attrib_cache__resolve_cg(struct attrib_cache *ac, uint32_t pid, uint64_t cgroup_id,
			     struct hs_proc *out);

/*
 * attrib_cache__lookup - cached entry for @pid only, never touching /proc; 0 or -ENOENT.
 * -EAGAIN (with @out filled) when its TLS library is still to be read (the maps budget
 * was spent): call attrib_cache__resolve, which reads it when the budget allows.
 */
int attrib_cache__lookup(struct attrib_cache *ac, uint32_t pid, struct hs_proc *out);

/* attrib_unit_from_cgroup - "system.slice/postfix.service" style unit name, or -ENOENT. */
int attrib_unit_from_cgroup(const char *cgroup, char *unit, size_t len);

/* attrib_container_from_cgroup - docker/containerd/podman/kubepods id, or -ENOENT. */
int attrib_container_from_cgroup(const char *cgroup, char *id, size_t len);

/* The most a container name takes (with its NUL). */
#define ATTRIB_CONTAINER_MAX HS_CONTAINER_MAX

/*
 * attrib_container_name - the name a restart of the container keeps, from the cgroup
 * path and the runtime's metadata (docker, podman, containerd, CRI-O, kubelet,
 * systemd-nspawn; see container.c), read once per container id; "(docker)" and the like
 * when the runtime is known and its metadata is not readable. -ENOENT when the path is
 * no container's.
 */
int attrib_container_name(const char *cgroup, char *name, size_t len);

/*
 * attrib_set_runtime_root - look for the runtimes' metadata under @root instead of "/"
 * (tests; TLSAUDIT_RUNTIME_ROOT); forgets the names read so far.
 */
void attrib_set_runtime_root(const char *root);

/*
 * attrib_unit_label - @unit as a label and process key: empty for a unit named per run
 * (the scopes of container runtimes and login sessions, a scope ending in a pid or an
 * id such as podman-4242.scope, systemd-run's run-u123, run-r<hex> and run-p4242-i4243
 * services and scopes), and a socket-activated service's per-connection instance as
 * its template ("sshd@.service").
 */
void attrib_unit_label(const char *unit, char *out, size_t len);

/*
 * attrib_tls_lib_from_maps - soname of the TLS library in a maps file, or -ENOENT. The
 * soname is read from the library through "root" next to @maps_path (attrib_open_mapped);
 * when that fails, the file name maps shows stands.
 */
int attrib_tls_lib_from_maps(const char *maps_path, char *lib, size_t len);

/* A mapped file as a /proc/PID/maps line names it: "fe:01 1835123". */
struct attrib_file_id {
	uint32_t dev_major, dev_minor;
	uint64_t ino;
};

/* Largest library attrib_open_mapped opens: libssl, libgnutls are a few MiB. */
#define ATTRIB_MAPPED_MAX (32u << 20)

/*
 * attrib_open_mapped - open @path (absolute, as maps shows it) for reading, resolved
 * inside the directory @root_fd (a process's /proc/PID/root), only when it is the
 * regular file @id, no larger than ATTRIB_MAPPED_MAX. The path is a process's to change:
 * nothing but that file is ever opened (no FIFO, device or symlink target). An fd, or
 * -ELOOP (a symlink), -EINVAL (not a regular file), -ESTALE (another file than @id),
 * -EFBIG, or the walk's -errno (-ENOENT, -EACCES).
 */
int attrib_open_mapped(int root_fd, const char *path, const struct attrib_file_id *id);

/*
 * attrib_owner_of_tuple - the pid owning a local TCP socket (sock_diag, then a scan of
 * /proc/PID/fd for its inode): the fallback where tracepoints are missing and for the
 * libpcap backend. Ports in host order, addresses in network order. 0 or -errno.
 */
int attrib_owner_of_tuple(int family, const uint8_t *laddr, uint16_t lport,
			  const uint8_t *raddr, uint16_t rport, uint32_t *pid);

/*
 * attrib_socket_inode - the inode of the TCP socket with this exact 4-tuple, in any
 * state, from NETLINK_SOCK_DIAG. -ENOENT when there is none or it has no inode
 * (TIME_WAIT, orphaned).
 */
int attrib_socket_inode(int family, const uint8_t *laddr, uint16_t lport, const uint8_t *raddr,
			uint16_t rport, uint64_t *inode);

/*
 * attrib_owner_of_inode - the first pid under @proc_root with an fd on "socket:[@inode]":
 * the owners found last first, then the processes newest first. The scan is bounded
 * per call and by a budget shared by all calls (see owner.c). 0, -ENOENT when no process
 * holds it, -EAGAIN when the budget ran out first or was spent already.
 */
int attrib_owner_of_inode(const char *proc_root, uint64_t inode, uint32_t *pid);

/* The scan's bounds, in entries (an fd directory opened or an fd link read). */
#define ATTRIB_SCAN_CALL_MAX 16384 /* per lookup */
#define ATTRIB_SCAN_RATE 32768	   /* per second, over all lookups */
#define ATTRIB_SCAN_BURST 65536	   /* in hand after a quiet time */

/* Counters of the /proc fd scan, for `tlsaudit status`. */
struct attrib_owner_stats {
	uint64_t lookups;   /* scans made */
	uint64_t found;	    /* scans that named the owner */
	uint64_t entries;   /* fd directories opened and fd links read */
	uint64_t truncated; /* scans that stopped at their share of the budget */
	uint64_t skipped;   /* scans not made: the budget was spent */
};

/* attrib_owner_stats - copy the counters (the scan state is the process's). */
void attrib_owner_stats(struct attrib_owner_stats *st);

/*
 * The join: live capture hands on records with their socket's identity (cookie or
 * 4-tuple and role), socket-owner events and the local ends it saw; this turns them
 * into each record's process. Capture never calls it: the daemon layer wires the two.
 */
struct attrib_join;

/* attrib_join__new - over @proc_root (normally "/proc"); NULL and errno on failure. */
struct attrib_join *attrib_join__new(const char *proc_root);
void attrib_join__free(struct attrib_join *j);

/*
 * attrib_join__owner - the tracepoints saw @o use socket @cookie: resolve it now. A tgid
 * of 0 is a process the kernel could not number in /proc's pid namespace: the record
 * then looks its socket up (attrib_join__local_end, else at completion), or has none.
 */
void attrib_join__owner(struct attrib_join *j, uint64_t cookie, const struct hs_owner *o);

/* attrib_join__close - socket @cookie closed: forget its owner. */
void attrib_join__close(struct attrib_join *j, uint64_t cookie);

/*
 * attrib_join__local_end - the @local end of the connection @client -> @server sent a
 * segment (libpcap: a client's SYN, then payload; eBPF when the owner had tgid 0): find
 * that end's process before it may be gone. Once found it is kept; a miss is tried once
 * more, at the next call.
 */
void attrib_join__local_end(struct attrib_join *j, const struct hs_endpoint *client,
			    const struct hs_endpoint *server, enum hs_role local);

/*
 * attrib_join__kernel_owner - the kernel saw @o's process own the @local end of
 * @client -> @server (libpcap: the perf tracepoints); read in /proc at once while the
 * process surely lives, and its pid and name kept if it is gone by the record.
 */
void attrib_join__kernel_owner(struct attrib_join *j, const struct hs_endpoint *client,
			       const struct hs_endpoint *server, enum hs_role local,
			       const struct hs_owner *o);

/*
 * attrib_join__record - fill @rec->proc for its local end (rec->role); @hint is the
 * owner the kernel knew when the record completed, or NULL.
 */
void attrib_join__record(struct attrib_join *j, struct hs_record *rec,
			 const struct hs_owner *hint);

/* attrib_join__unattributed - records whose process could not be named. */
uint64_t attrib_join__unattributed(const struct attrib_join *j);

#endif /* TLSAUDIT_ATTRIB_H */
