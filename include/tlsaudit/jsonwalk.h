/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A bounded JSON reader (RFC 8259) for documents another program wrote: the container
 * runtimes' metadata (docker's config.v2.json, an OCI bundle's config.json, podman's
 * containers.json). It keeps nothing: it walks the document once and hands every scalar
 * to a callback with the path of keys and array indexes that leads to it.
 */
#ifndef TLSAUDIT_JSONWALK_H
#define TLSAUDIT_JSONWALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Nesting accepted at most; deeper documents are refused. */
#define UTIL_JSON_DEPTH_MAX 64
/* Path segments passed to the callback; scalars nested deeper are not passed. */
#define UTIL_JSON_PATH_MAX 8
/* Keys longer than this are cut in the path (compared whole, they never match). */
#define UTIL_JSON_KEY_MAX 128
/* String values longer than this are passed cut, with UTIL_JSON_CUT set. */
#define UTIL_JSON_VALUE_MAX 1024

enum util_json_type {
	UTIL_JSON_STRING = 0, /* decoded (escapes resolved, \u as UTF-8) */
	UTIL_JSON_NUMBER,     /* the number's text */
	UTIL_JSON_TRUE,
	UTIL_JSON_FALSE,
	UTIL_JSON_NULL,
};
#define UTIL_JSON_CUT 0x100 /* or'ed into the type: the string was longer than passed */

struct util_json_seg {
	const char *key; /* NULL for an array element */
	size_t index;	 /* the element's index in its array */
	bool key_cut;	 /* the key was longer than UTIL_JSON_KEY_MAX */
};

struct util_json_path {
	int depth; /* segments in use */
	struct util_json_seg seg[UTIL_JSON_PATH_MAX];
};

/*
 * util_json_fn - one scalar at @path; @str is NUL-terminated. Return 0 to go on, any
 * other value to stop the walk (util_json_walk then returns it).
 */
typedef int (*util_json_fn)(const struct util_json_path *path, int type, const char *str,
			    size_t len, void *ctx);

/*
 * util_json_walk - check that @buf is one JSON value (whitespace around it) and pass its
 * scalars to @fn (may be NULL: validation only). 0, what @fn returned to stop, or
 * -EINVAL for anything that is not JSON (truncated, trailing bytes, too deep).
 */
int util_json_walk(const void *buf, size_t len, util_json_fn fn, void *ctx);

/*
 * util_json_path_is - @path is exactly the keys given, NULL-terminated; "[]" stands for
 * any array element. util_json_path_is(p, "Config", "Image", NULL).
 */
bool util_json_path_is(const struct util_json_path *path, ...) __attribute__((sentinel));

#endif /* TLSAUDIT_JSONWALK_H */
