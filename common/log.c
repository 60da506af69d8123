/* common/log.c: timestamped text or JSON lines to one stream. */
#include "common/log.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"

static fl_log_level_t log_level = FL_LOG_INFO;
static int log_json;
static FILE *log_stream;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void
fl_log_set_level(fl_log_level_t level)
{
    log_level = level;
}

fl_err_t
fl_log_level_parse(const char *name, fl_log_level_t *out)
{
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (name != NULL && strcasecmp(name, level_names[i]) == 0) {
            *out = (fl_log_level_t) i;
            return FL_OK;
        }
    }
    return FL_ERR_INVALID;
}

void
fl_log_set_json(int json)
{
    log_json = json;
}

void
fl_log_set_stream(FILE *stream)
{
    log_stream = stream;
}

size_t
fl_json_escape(char *out, size_t outlen, const char *s)
{
    size_t n = 0;

    if (outlen == 0)
        return 0;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char) *s;
        char tmp[8];
        size_t len;

        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char) c;
            len = 2;
        } else if (c < 0x20) {
            len = (size_t) snprintf(tmp, sizeof tmp, "\\u%04x", c);
        } else {
            tmp[0] = (char) c;
            len = 1;
        }
        if (n + len >= outlen)
            break;
        memcpy(out + n, tmp, len);
        n += len;
    }
    out[n] = '\0';
    return n;
}

void
fl_log(fl_log_level_t level, const char *fmt, ...)
{
    char msg[2048];
    char esc[4096];
    char line[4300];
    char ts[40];
    FILE *stream = log_stream != NULL ? log_stream : stderr;
    va_list ap;

    if (level < log_level || level > FL_LOG_ERROR)
        return;
    va_start(ap, fmt);
    (void) vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fl_clock_iso8601(ts, sizeof ts, fl_clock_wall_ms());
    if (log_json) {
        (void) fl_json_escape(esc, sizeof esc, msg);
        (void) snprintf(line, sizeof line,
                        "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}\n", ts,
                        level_names[level], esc);
    } else {
        (void) snprintf(line, sizeof line, "%s %-5s %s\n", ts,
                        level_names[level], msg);
    }
    (void) fputs(line, stream);
    (void) fflush(stream);
}
