// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer entry for the bounded JSON reader (src/util/jsonwalk.c), which reads the
 * container runtimes' metadata: the raw input is the document. Every scalar handed to
 * the callback must be NUL-terminated at its stated length and within the value cap, and
 * the path within its bounds; the walk must end (the depth cap) whatever the bytes.
 * Build with `make fuzz`; run build/fuzz/fuzz_jsonwalk.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlsaudit/jsonwalk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check(const struct util_json_path *p, int type, const char *s, size_t len, void *ctx)
{
	int i;

	(void)ctx;
	if (len >= UTIL_JSON_VALUE_MAX || s[len] != '\0' || p->depth < 0 ||
	    p->depth > UTIL_JSON_PATH_MAX || (type & ~UTIL_JSON_CUT) > UTIL_JSON_NULL)
		abort();
	for (i = 0; i < p->depth; i++)
		if (p->seg[i].key && strlen(p->seg[i].key) >= UTIL_JSON_KEY_MAX)
			abort();
	/* The paths the container code asks about. */
	return util_json_path_is(p, "Config", "Image", NULL) &&
	       util_json_path_is(p, "[]", "names", "[]", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int ret = util_json_walk(data, size, check, NULL);

	if (ret != 0 && ret != -EINVAL && ret != -ENOMEM)
		abort();
	return 0;
}
