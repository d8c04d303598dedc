/* SPDX-License-Identifier: GPL-2.0-only */
/* Small helpers shared by every module. */
#ifndef TLSAUDIT_UTIL_H
#define TLSAUDIT_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_MSEC 1000000ULL

/* Longest path the file helpers take. */
#define UTIL_PATH_MAX 4096

/* util_reallocarray - realloc(@p, @n * @size) or NULL and ENOMEM on overflow. */
void *util_reallocarray(void *p, size_t n, size_t size);

/* util_parse_u64 - whole-string decimal in [min, max]; 0 or -EINVAL/-ERANGE. */
int util_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* util_parse_duration - "15s", "2m", "1h", "500ms", "1d" or plain seconds, to ns. */
int util_parse_duration(const char *s, uint64_t *ns);

/* util_parse_ports - "443,25,587" into @ports (max @cap); count or -EINVAL. */
int util_parse_ports(const char *s, uint16_t *ports, int cap);

/* util_strlcpy - copy with truncation, always NUL-terminated; returns strlen(src). */
size_t util_strlcpy(char *dst, const char *src, size_t size);

/* util_now_ns - CLOCK_REALTIME in ns. */
uint64_t util_now_ns(void);

/*
 * FNV-1a, 64 bits: util_fnv1a(UTIL_FNV1A_INIT, buf, len), chained over several fields.
 * For tables keyed by local identities and for telling definitions apart; no defence
 * against keys an attacker chooses.
 */
#define UTIL_FNV1A_INIT 0xcbf29ce484222325ULL
#define UTIL_FNV1A_PRIME 0x100000001b3ULL
uint64_t util_fnv1a(uint64_t h, const void *buf, size_t len);

/* util_mono_ns - CLOCK_MONOTONIC in ns: intervals, timeouts, uptime. */
uint64_t util_mono_ns(void);

/* util_format_time - RFC 3339 UTC with milliseconds ("2026-11-23T10:00:00.123Z"). */
void util_format_time(uint64_t ns, char *buf, size_t len);

/*
 * util_fmt_dec, util_fmt_hex4 - digits without printf (formatting is on the per-record
 * paths). fmt_dec writes @v in decimal, no NUL, and returns the length (at most 20);
 * fmt_hex4 writes exactly four lowercase hex digits, no NUL.
 */
size_t util_fmt_dec(uint64_t v, char out[20]);
void util_fmt_hex4(uint16_t v, char out[4]);

/*
 * util_utf8_len - the length of the well-formed UTF-8 sequence at @p (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF), or 0 when @p does not start
 * one. @p is NUL-terminated; nothing past the NUL is read.
 */
size_t util_utf8_len(const unsigned char *p);

/*
 * util_json_string - append @s as a JSON string literal (quotes included) to @buf at
 * *@off; NUL-terminated. Valid UTF-8 goes out as it is; the quote and the backslash
 * as \" and \\, control characters (U+0000..U+001F, U+007F..U+009F) as \u00XX, and a
 * byte that is not part of valid UTF-8 as \u00XX (U+00XX, its Latin-1 reading), so
 * the line is valid UTF-8 whatever @s holds. 0, or -1 when it does not fit (*@off
 * unchanged).
 */
int util_json_string(char *buf, size_t len, size_t *off, const char *s);

/* util_format_ip - numeric address of @family (AF_INET/AF_INET6) into @buf. */
void util_format_ip(int family, const uint8_t *addr, char *buf, size_t len);

/* util_mkdir_parent - create the directories above @path (like mkdir -p), @mode for new ones. */
int util_mkdir_parent(const char *path, unsigned int mode);

/*
 * util_write_atomic - replace @path with @len bytes: a temp file in the same directory,
 * fsync, rename over @path, fsync of the directory; readers never see a partial file.
 * 0, or -errno with @err saying which step failed.
 */
int util_write_atomic(const char *path, const void *data, size_t len, unsigned int mode, char *err,
		     size_t errlen);

/*
 * util_remove_stale_temps - remove the temp files util_write_atomic() leaves next to
 * @path when the process dies between creating one and renaming it (PATH.tmpXXXXXX,
 * regular files only). For start-up, before anything writes @path: a writer running
 * meanwhile would lose its temp file and that one write. 0 (also when the directory
 * does not exist) or the last -errno; *@removed counts the files removed.
 */
int util_remove_stale_temps(const char *path, unsigned int *removed);

#endif /* TLSAUDIT_UTIL_H */
