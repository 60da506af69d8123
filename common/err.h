/*
 * common/err.h: the one error type of dpfl.
 *
 * Every fallible function returns an fl_err_t. Human context (what failed,
 * where: file:line or peer:field) goes into a caller-supplied fl_errbuf_t,
 * one line, never to a log: libraries do not log.
 *
 * Values are numbered and never renumbered; new codes go at the end.
 */
#ifndef FL_ERR_H
#define FL_ERR_H

#include <stddef.h>

#define FL_WUR __attribute__((warn_unused_result))
#define FL_PRINTF(f, a) __attribute__((format(printf, f, a)))

typedef enum fl_err {
    FL_OK = 0,
    FL_ERR_NOMEM = 1,       /* allocation failed */
    FL_ERR_INVALID = 2,     /* invalid argument or value */
    FL_ERR_IO = 3,          /* a system call on a file or socket failed */
    FL_ERR_PARSE = 4,       /* malformed input (file, message, record) */
    FL_ERR_RANGE = 5,       /* a value outside its permitted range */
    FL_ERR_LIMIT = 6,       /* a size or count limit was exceeded */
    FL_ERR_NOT_FOUND = 7,   /* a required item is missing */
    FL_ERR_CRYPTO = 8,      /* a cryptographic operation failed */
    FL_ERR_PROTO = 9,       /* a peer broke the protocol */
    FL_ERR_AUTH = 10,       /* authentication or authorisation refused */
    FL_ERR_TIMEOUT = 11,    /* a deadline passed */
    FL_ERR_BUDGET = 12,     /* a privacy budget would be exceeded */
    FL_ERR_POLICY = 13,     /* refused by local policy */
    FL_ERR_STATE = 14,      /* operation not valid in the current state */
    FL_ERR_NUMERIC = 15,    /* a computation cannot give a correct answer */
    FL_ERR_CLOSED = 16,     /* the peer or resource is closed */
    FL_ERR_AGAIN = 17,      /* nothing to do now; try again later */
    FL_ERR_INTERNAL = 18,   /* a bug: an invariant did not hold */
    FL_ERR_UNSUPPORTED = 19 /* a valid request this build does not support */
} fl_err_t;

/* Returns a static, constant, human-readable name of the code. Thread-safe. */
const char *fl_strerror(fl_err_t err);

#define FL_ERRBUF_SIZE 512

/* Caller-allocated one-line error message. Zero-initialise before use. */
typedef struct fl_errbuf {
    char msg[FL_ERRBUF_SIZE];
} fl_errbuf_t;

/*
 * Formats the message into eb (which may be NULL) and returns err, so that
 * error paths read `return fl_fail(eb, FL_ERR_PARSE, "%s:%d: ...", ...)`.
 */
fl_err_t fl_fail(fl_errbuf_t *eb, fl_err_t err, const char *fmt, ...)
    FL_PRINTF(3, 4);

/*
 * Prefixes the message already in eb with the given context followed by
 * ": ". Returns err. Use to add the caller's view ("node.ini: ...").
 */
fl_err_t fl_fail_prefix(fl_errbuf_t *eb, fl_err_t err, const char *fmt, ...)
    FL_PRINTF(3, 4);

/* The message in eb, or fl_strerror(err) when eb is NULL or empty. */
const char *fl_errbuf_str(const fl_errbuf_t *eb, fl_err_t err);

#endif
