// SPDX-License-Identifier: GPL-2.0-only
/*
 * Joins what live capture hands on (records with their socket's identity, socket-owner
 * events, the local ends libpcap saw) into the process of each record.
 *
 * eBPF: the owner of a socket cookie comes from the tracepoints and is resolved in
 * /proc as soon as it is seen (the process may be gone once the handshake completes).
 * An owner the kernel could not number in /proc's pid namespace (tgid 0: a process
 * outside it, or in a namespace below it) is looked up like a libpcap local end.
 * libpcap: each local end is looked up through sock_diag at its first payload, for the
 * same reason. Either way, where nothing was remembered the socket is looked up when
 * the record completes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tlsaudit/attrib.h"
#include "tlsaudit/log.h"
#include "tlsaudit/util.h"

/* Direct-mapped per-socket owners; a collision only loses a hint the owner map still has. */
#define SOCK_SLOTS 65536

struct sock_slot {
	uint64_t cookie; /* 0: empty */
	struct hs_owner owner;
};

/*
 * libpcap: the owner of each local end, looked up as early as the wire allows (a
 * client's SYN, a server's first payload, see attrib_join__local_end). By the time the
 * record completes, a short-lived client (or a server that answered and closed) may no
 * longer hold its socket.
 */
#define TUPLE_SLOTS 4096
/* Lookups per end: the SYN's and, when that one found nothing, the first payload's. */
#define TUPLE_TRIES 2

struct tuple_slot {
	struct hs_endpoint client, server;
	uint32_t pid[2]; /* [0] client end, [1] server end; 0: not found */
	uint8_t tries[2];
	bool used;
	bool kernel[2];	   /* owner[] is what the kernel saw (attrib_join__kernel_owner) */
	struct hs_owner owner[2];
};

struct attrib_join {
	struct attrib_cache *ac; /* NULL: no /proc, records carry no process */
	struct sock_slot *socks;
	struct tuple_slot *tuples;
	uint64_t unattributed;
};

struct attrib_join *attrib_join__new(const char *proc_root)
{
	struct attrib_join *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->socks = calloc(SOCK_SLOTS, sizeof(*j->socks));
	j->tuples = calloc(TUPLE_SLOTS, sizeof(*j->tuples));
	if (!j->socks || !j->tuples) {
		attrib_join__free(j);
		errno = ENOMEM;
		return NULL;
	}
	/* Without /proc there is still a record, only no process name. */
	j->ac = attrib_cache__new(proc_root, ATTRIB_CACHE_DEFAULT);
	if (!j->ac)
		log_warn("process attribution disabled: %s", strerror(errno));
	return j;
}

void attrib_join__free(struct attrib_join *j)
{
	if (!j)
		return;
	attrib_cache__free(j->ac);
	free(j->socks);
	free(j->tuples);
	free(j);
}

uint64_t attrib_join__unattributed(const struct attrib_join *j)
{
	return j->unattributed;
}

static struct sock_slot *sock_of(struct attrib_join *j, uint64_t cookie)
{
	return &j->socks[(cookie ^ (cookie >> 16)) & (SOCK_SLOTS - 1)];
}

static bool endpoint_eq(const struct hs_endpoint *a, const struct hs_endpoint *b)
{
	size_t alen = a->family == AF_INET ? 4 : 16;

	return a->family == b->family && a->port == b->port && !memcmp(a->addr, b->addr, alen);
}

static void proc_from_owner(struct hs_proc *p, const struct hs_owner *o)
{
	memset(p, 0, sizeof(*p));
	p->known = true;
	p->pid = o->tgid;
	p->uid = o->uid;
	util_strlcpy(p->comm, o->comm, sizeof(p->comm));
}

static void resolve_pid(struct attrib_join *j, uint32_t pid, const struct hs_owner *o,
			struct hs_proc *out)
{
	/*
	 * The cached entry, without touching /proc, when the tracepoint saw the same command
	 * name: a handshake storm from one process then costs no file reads at all.
	 */
	if (j->ac && o && attrib_cache__lookup(j->ac, pid, out) == 0 && out->known &&
	    !strncmp(out->comm, o->comm, sizeof(o->comm)))
		return;
	if (j->ac && attrib_cache__resolve_cg(j->ac, pid, o ? o->cgroup_id : 0, out) == 0 &&
	    out->known)
		return;
	/* Gone before /proc could be read: what the tracepoint saw is still right. */
	if (o)
		proc_from_owner(out, o);
	else
		memset(out, 0, sizeof(*out));
}

/*
 * lookup_end - the process holding the @local end of a connection to @remote. A
 * server's connection can be gone before the daemon looks: the server closed first and
 * its end sits in TIME_WAIT, without an inode. The process is then its listening
 * socket's, found by the same lookup with no peer: the server, or for a pre-fork server
 * the parent that holds the listener (as for any socket inherited over fork, its
 * oldest holder; the process key, exe and unit, is the same).
 */
static int lookup_end(const struct hs_endpoint *local, const struct hs_endpoint *remote,
		      enum hs_role role, uint32_t *pid)
{
	static const uint8_t any[16];
	int err;

	err = attrib_owner_of_tuple(local->family, local->addr, local->port, remote->addr,
				    remote->port, pid);
	if (err == -ENOENT && role == HS_ROLE_SERVER)
		err = attrib_owner_of_tuple(local->family, local->addr, local->port, any, 0, pid);
	return err;
}

static void owner_by_tuple(struct attrib_join *j, const struct hs_endpoint *local,
			   const struct hs_endpoint *remote, enum hs_role role,
			   struct hs_proc *out)
{
	uint32_t pid;

	memset(out, 0, sizeof(*out));
	if (lookup_end(local, remote, role, &pid) == 0)
		resolve_pid(j, pid, NULL, out);
}

void attrib_join__owner(struct attrib_join *j, uint64_t cookie, const struct hs_owner *o)
{
	struct sock_slot *s = sock_of(j, cookie);
	struct hs_proc p;

	s->cookie = cookie;
	s->owner = *o;
	/* Read /proc now, while the process surely lives; the record finds it cached. */
	if (o->tgid)
		resolve_pid(j, o->tgid, o, &p);
}

void attrib_join__close(struct attrib_join *j, uint64_t cookie)
{
	struct sock_slot *s = sock_of(j, cookie);

	if (s->cookie == cookie)
		memset(s, 0, sizeof(*s));
}

static struct tuple_slot *tuple_of(struct attrib_join *j, const struct hs_endpoint *client,
				   const struct hs_endpoint *server)
{
	uint32_t h = 2166136261u;
	size_t i;

	/* FNV-1a over the fields that tell connections apart. */
	for (i = 0; i < sizeof(client->addr); i++)
		h = (h ^ client->addr[i] ^ server->addr[i]) * 16777619u;
	h = (h ^ client->port) * 16777619u;
	h = (h ^ server->port) * 16777619u;
	return &j->tuples[h & (TUPLE_SLOTS - 1)];
}

/* The slot of @client -> @server, claimed (and reset) if another connection held it. */
static struct tuple_slot *tuple_claim(struct attrib_join *j, const struct hs_endpoint *client,
				      const struct hs_endpoint *server)
{
	struct tuple_slot *t = tuple_of(j, client, server);

	if (!t->used || !endpoint_eq(&t->client, client) || !endpoint_eq(&t->server, server)) {
		memset(t, 0, sizeof(*t));
		t->used = true;
		t->client = *client;
		t->server = *server;
	}
	return t;
}

void attrib_join__kernel_owner(struct attrib_join *j, const struct hs_endpoint *client,
			       const struct hs_endpoint *server, enum hs_role local,
			       const struct hs_owner *o)
{
	struct tuple_slot *t = tuple_claim(j, client, server);
	int side = local == HS_ROLE_CLIENT ? 0 : 1;
	struct hs_proc p;

	/* A new owner (a new connect on a reused 4-tuple, a reader): earlier lookups do not count. */
	t->tries[side] = 0;
	t->pid[side] = o->tgid;
	t->owner[side] = *o;
	t->kernel[side] = true;
	resolve_pid(j, o->tgid, o, &p);
	/*
	 * No exec seen since the capture started: the name /proc gave, so that the
	 * record finds the cached entry even once the process is gone.
	 */
	if (!o->comm[0] && p.known && p.pid == o->tgid)
		util_strlcpy(t->owner[side].comm, p.comm, sizeof(t->owner[side].comm));
}

void attrib_join__local_end(struct attrib_join *j, const struct hs_endpoint *client,
			    const struct hs_endpoint *server, enum hs_role local)
{
	struct tuple_slot *t = tuple_claim(j, client, server);
	int side = local == HS_ROLE_CLIENT ? 0 : 1;
	const struct hs_endpoint *me = side == 0 ? client : server;
	const struct hs_endpoint *peer = side == 0 ? server : client;
	struct hs_proc p;

	if (t->pid[side] || t->tries[side] >= TUPLE_TRIES)
		return;
	t->tries[side]++;
	if (lookup_end(me, peer, local, &t->pid[side]))
		t->pid[side] = 0;
	else if (j->ac)
		attrib_cache__resolve(j->ac, t->pid[side], &p);
}

void attrib_join__record(struct attrib_join *j, struct hs_record *rec,
			 const struct hs_owner *hint)
{
	const struct hs_endpoint *local, *remote;
	const struct hs_owner *o;
	const struct sock_slot *s;
	const struct tuple_slot *t;
	int side;

	memset(&rec->proc, 0, sizeof(rec->proc));
	if (rec->role != HS_ROLE_CLIENT && rec->role != HS_ROLE_SERVER)
		goto out;
	side = rec->role == HS_ROLE_CLIENT ? 0 : 1;
	local = side == 0 ? &rec->client : &rec->server;
	remote = side == 0 ? &rec->server : &rec->client;
	if (rec->cookie) {
		s = sock_of(j, rec->cookie);
		o = s->cookie == rec->cookie ? &s->owner : hint;
		if (o && o->tgid) {
			resolve_pid(j, o->tgid, o, &rec->proc);
			goto out;
		}
		/*
		 * No owner, or one outside the pid namespace /proc numbers (tgid 0): the
		 * socket's process as /proc shows it, looked up at its first segment
		 * (attrib_join__local_end) or now; none when /proc does not show it.
		 */
	}
	t = tuple_of(j, &rec->client, &rec->server);
	if (t->used && t->pid[side] && endpoint_eq(&t->client, &rec->client) &&
	    endpoint_eq(&t->server, &rec->server))
		resolve_pid(j, t->pid[side], t->kernel[side] ? &t->owner[side] : NULL,
			    &rec->proc);
	else
		owner_by_tuple(j, local, remote, rec->role, &rec->proc);
out:
	if (!rec->proc.known)
		j->unattributed++;
}
