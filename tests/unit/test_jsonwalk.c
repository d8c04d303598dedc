// SPDX-License-Identifier: GPL-2.0-only
/*
 * The bounded JSON reader: paths and decoded values of a docker-like document, every
 * prefix of a valid document refused (never a crash), the grammar's corners (numbers,
 * escapes, literals, trailing bytes), a nesting bomb, a callback that stops the walk.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tlsaudit/jsonwalk.h"

static const char doc[] =
	"{\"ID\":\"0123\",\"Name\":\"/web\",\"Config\":{\"Image\":\"nginx:1.25\","
	"\"Env\":[\"A=1\",\"B=\\u00e9\\n\"],\"Tty\":false,\"Labels\":null},"
	"\"State\":{\"Pid\":4242,\"Ratio\":-1.5e+3},\"names\":[[\"x\"]]}";

struct seen {
	char name[64], image[64], env1[64], nested[8];
	int scalars;
};

static int collect(const struct util_json_path *p, int type, const char *s, size_t len,
		   void *ctx)
{
	struct seen *v = ctx;

	(void)len;
	v->scalars++;
	if (util_json_path_is(p, "Name", NULL) && type == UTIL_JSON_STRING)
		snprintf(v->name, sizeof(v->name), "%s", s);
	if (util_json_path_is(p, "Config", "Image", NULL))
		snprintf(v->image, sizeof(v->image), "%s", s);
	if (util_json_path_is(p, "Config", "Env", "[]", NULL) && p->seg[2].index == 1)
		snprintf(v->env1, sizeof(v->env1), "%s", s);
	if (util_json_path_is(p, "names", "[]", "[]", NULL))
		snprintf(v->nested, sizeof(v->nested), "%s", s);
	if (util_json_path_is(p, "State", "Ratio", NULL))
		assert_string_equal(s, "-1.5e+3");
	return 0;
}

static void test_paths(void **state)
{
	struct seen v;

	(void)state;
	memset(&v, 0, sizeof(v));
	assert_int_equal(util_json_walk(doc, strlen(doc), collect, &v), 0);
	assert_string_equal(v.name, "/web");
	assert_string_equal(v.image, "nginx:1.25");
	assert_string_equal(v.env1, "B=\xc3\xa9\n");
	assert_string_equal(v.nested, "x");
	assert_int_equal(v.scalars, 10);
}

/* Every proper prefix of a document is not JSON; none is read past its end (ASan). */
static void test_prefixes(void **state)
{
	size_t i, n = strlen(doc);
	char *copy;

	(void)state;
	for (i = 0; i < n; i++) {
		copy = malloc(i ? i : 1);
		memcpy(copy, doc, i);
		assert_int_equal(util_json_walk(copy, i, NULL, NULL), -EINVAL);
		free(copy);
	}
}

static void test_grammar(void **state)
{
	static const char *const good[] = {
		"0", "-0", "1.5", "1e9", "1E-2", "\"\"", "[]", "{}", " [1, 2 ,3] ", "true",
		"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\ud83d\"", "{\"a\":{\"b\":[{}]}}",
	};
	static const char *const bad[] = {
		"", " ", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul", "[1,]", "{\"a\":1,}",
		"{\"a\"1}", "{a:1}", "[1 2]", "\"\\x\"", "\"\\u12g4\"", "\"a\nb\"", "1 2", "[",
		"{\"a\":}", "\"abc", "[]]",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (util_json_walk(good[i], strlen(good[i]), NULL, NULL))
			fail_msg("refused: %s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (util_json_walk(bad[i], strlen(bad[i]), NULL, NULL) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
}

/* A nesting bomb is refused at the depth cap, not followed down the stack. */
static void test_depth(void **state)
{
	size_t n = 100000, i;
	char *s = malloc(2 * n);

	(void)state;
	for (i = 0; i < n; i++) {
		s[i] = '[';
		s[2 * n - 1 - i] = ']';
	}
	assert_int_equal(util_json_walk(s, 2 * n, NULL, NULL), -EINVAL);
	assert_int_equal(util_json_walk(s + n - UTIL_JSON_DEPTH_MAX, 2 * UTIL_JSON_DEPTH_MAX,
					NULL, NULL), 0);
	free(s);
}

static int stop_at_image(const struct util_json_path *p, int type, const char *s, size_t len,
			 void *ctx)
{
	(void)type;
	(void)len;
	if (!util_json_path_is(p, "Config", "Image", NULL))
		return 0;
	snprintf(ctx, 64, "%s", s);
	return 1;
}

static int note_cut(const struct util_json_path *p, int type, const char *s, size_t len,
		    void *ctx)
{
	(void)p;
	(void)s;
	assert_int_equal(len, UTIL_JSON_VALUE_MAX - 1);
	*(int *)ctx = type;
	return 0;
}

/* A callback may stop early; long values arrive cut and say so. */
static void test_stop_and_cut(void **state)
{
	char image[64] = "", *big;
	size_t n = UTIL_JSON_VALUE_MAX * 3, i;
	int type = -1;

	(void)state;
	/* Stopped at the image: the truncated rest is never looked at. */
	assert_int_equal(util_json_walk(doc, strlen(doc) - 5, stop_at_image, image), 1);
	assert_string_equal(image, "nginx:1.25");
	big = malloc(n + 2);
	big[0] = '"';
	for (i = 1; i <= n; i++)
		big[i] = 'a';
	big[n + 1] = '"';
	assert_int_equal(util_json_walk(big, n + 2, note_cut, &type), 0);
	assert_int_equal(type, UTIL_JSON_STRING | UTIL_JSON_CUT);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_grammar),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_stop_and_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
