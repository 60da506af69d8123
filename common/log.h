/*
 * common/log.h: logging for the daemons' main loops (libraries never log).
 *
 * One line per call to stderr: an ISO-8601 UTC timestamp, the level and the
 * message; or, after fl_log_set_json(1), one JSON object per line with keys
 * "ts", "level", "msg" so that `--json` output stays machine-readable.
 * Never pass secrets (keys, seeds) to these functions.
 *
 * Thread-safety: the settings are process-wide; set them before threads
 * start. Each line is written with one fputs, so lines do not interleave.
 */
#ifndef FL_LOG_H
#define FL_LOG_H

#include <stdio.h>

#include "common/err.h"

typedef enum fl_log_level {
    FL_LOG_DEBUG = 0,
    FL_LOG_INFO = 1,
    FL_LOG_WARN = 2,
    FL_LOG_ERROR = 3
} fl_log_level_t;

/* Messages below level are dropped. Default FL_LOG_INFO. */
void fl_log_set_level(fl_log_level_t level);

/* Parses "debug", "info", "warn" or "error". Returns FL_ERR_INVALID else. */
fl_err_t fl_log_level_parse(const char *name, fl_log_level_t *out) FL_WUR;

/* 1: JSON lines; 0: text lines (default). */
void fl_log_set_json(int json);

/* Destination (default stderr). The stream is not owned. */
void fl_log_set_stream(FILE *stream);

void fl_log(fl_log_level_t level, const char *fmt, ...) FL_PRINTF(2, 3);

#define fl_log_debug(...) fl_log(FL_LOG_DEBUG, __VA_ARGS__)
#define fl_log_info(...) fl_log(FL_LOG_INFO, __VA_ARGS__)
#define fl_log_warn(...) fl_log(FL_LOG_WARN, __VA_ARGS__)
#define fl_log_error(...) fl_log(FL_LOG_ERROR, __VA_ARGS__)

/*
 * Writes s as the body of a JSON string (without quotes) into out, escaping
 * quotes, backslashes and control characters. Always NUL-terminates; returns
 * the length written, truncating at a character boundary when out is full.
 */
size_t fl_json_escape(char *out, size_t outlen, const char *s);

#endif
