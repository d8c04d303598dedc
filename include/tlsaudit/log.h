/* SPDX-License-Identifier: GPL-2.0-only */
/* Logging: levels, printf-checked, to stderr (journald adds time and unit). */
#ifndef TLSAUDIT_LOG_H
#define TLSAUDIT_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERR };

/* log_set_level - messages below @lvl are dropped (default: info). */
void log_set_level(enum log_level lvl);
/* log_enabled - cheap test before building expensive debug output. */
bool log_enabled(enum log_level lvl);
/* log_msg - one line, prefixed with the level; no trailing newline needed. */
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...)                                                                     \
	do {                                                                               \
		if (log_enabled(LOG_LVL_DEBUG))                                            \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                               \
	} while (0)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)

#endif /* TLSAUDIT_LOG_H */
