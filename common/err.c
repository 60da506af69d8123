/* common/err.c: error names and the caller-supplied message buffer. */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *
fl_strerror(fl_err_t err)
{
    switch (err) {
    case FL_OK:
        return "success";
    case FL_ERR_NOMEM:
        return "out of memory";
    case FL_ERR_INVALID:
        return "invalid argument";
    case FL_ERR_IO:
        return "input/output error";
    case FL_ERR_PARSE:
        return "malformed input";
    case FL_ERR_RANGE:
        return "value out of range";
    case FL_ERR_LIMIT:
        return "limit exceeded";
    case FL_ERR_NOT_FOUND:
        return "not found";
    case FL_ERR_CRYPTO:
        return "cryptographic failure";
    case FL_ERR_PROTO:
        return "protocol violation";
    case FL_ERR_AUTH:
        return "authentication refused";
    case FL_ERR_TIMEOUT:
        return "timed out";
    case FL_ERR_BUDGET:
        return "privacy budget exceeded";
    case FL_ERR_POLICY:
        return "refused by policy";
    case FL_ERR_STATE:
        return "invalid state";
    case FL_ERR_NUMERIC:
        return "numerically unsafe";
    case FL_ERR_CLOSED:
        return "closed";
    case FL_ERR_AGAIN:
        return "try again";
    case FL_ERR_INTERNAL:
        return "internal error";
    case FL_ERR_UNSUPPORTED:
        return "unsupported";
    }
    return "unknown error";
}

fl_err_t
fl_fail(fl_errbuf_t *eb, fl_err_t err, const char *fmt, ...)
{
    va_list ap;

    if (eb == NULL)
        return err;
    va_start(ap, fmt);
    (void) vsnprintf(eb->msg, sizeof eb->msg, fmt, ap);
    va_end(ap);
    return err;
}

fl_err_t
fl_fail_prefix(fl_errbuf_t *eb, fl_err_t err, const char *fmt, ...)
{
    char old[FL_ERRBUF_SIZE];
    const char *rest;
    size_t n;
    va_list ap;
    int w;

    if (eb == NULL)
        return err;
    memcpy(old, eb->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    rest = old[0] != '\0' ? old : fl_strerror(err);
    va_start(ap, fmt);
    w = vsnprintf(eb->msg, sizeof eb->msg, fmt, ap);
    va_end(ap);
    n = w < 0 ? 0 : (size_t) w;
    if (n >= sizeof eb->msg - 3)
        return err;
    /* Append ": " and the old message, truncating to the buffer. */
    eb->msg[n++] = ':';
    eb->msg[n++] = ' ';
    for (size_t i = 0; rest[i] != '\0' && n < sizeof eb->msg - 1; i++)
        eb->msg[n++] = rest[i];
    eb->msg[n] = '\0';
    return err;
}

const char *
fl_errbuf_str(const fl_errbuf_t *eb, fl_err_t err)
{
    if (eb == NULL || eb->msg[0] == '\0')
        return fl_strerror(err);
    return eb->msg;
}
