/* sim/job_edit.c: line-level overrides of a job file's [job] section. */
#include "sim/run.h"

#include <stdlib.h>
#include <string.h>

#include "proto/job.h"

#define MAX_OVERRIDES 32

typedef struct buf {
    char *p;
    size_t len, cap;
} buf_t;

static int
put(buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->p, cap);

        if (p == NULL)
            return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 1;
}

static int
put_kv(buf_t *b, const char *key, const char *value)
{
    return put(b, key, strlen(key)) && put(b, " = ", 3) &&
           put(b, value, strlen(value)) && put(b, "\n", 1);
}

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* The index of the override whose key this line sets, or -1. */
static long
line_key(const char *line, size_t n, const char *const *key, size_t nk)
{
    size_t i = 0, e;

    while (i < n && is_space(line[i]))
        i++;
    e = i;
    while (e < n && line[e] != '=' && !is_space(line[e]))
        e++;
    for (size_t k = 0; k < nk; k++)
        if (strlen(key[k]) == e - i && memcmp(line + i, key[k], e - i) == 0)
            return (long) k;
    return -1;
}

/* A section header "[name]" (after blanks): its name, else NULL. */
static int
section(const char *line, size_t n, const char **name, size_t *name_len)
{
    size_t i = 0, e;

    while (i < n && is_space(line[i]))
        i++;
    if (i >= n || line[i] != '[')
        return 0;
    e = i + 1;
    while (e < n && line[e] != ']')
        e++;
    *name = line + i + 1;
    *name_len = e - i - 1;
    return 1;
}

static int
flush_missing(buf_t *b, const char *const *key, const char *const *value,
              size_t n, const int *done)
{
    for (size_t k = 0; k < n; k++)
        if (!done[k] && value[k] != NULL && !put_kv(b, key[k], value[k]))
            return 0;
    return 1;
}

fl_err_t
sim_job_override(const char *bytes, size_t len, const char *const *key,
                 const char *const *value, size_t n, char **out,
                 size_t *out_len, fl_errbuf_t *eb)
{
    int done[MAX_OVERRIDES] = {0};
    buf_t b = {NULL, 0, 0};
    int in_job = 0, seen_job = 0, ok = 1;
    size_t pos = 0;

    *out = NULL;
    if (n > MAX_OVERRIDES || len > PB_JOB_MAX_BYTES)
        return fl_fail(eb, FL_ERR_LIMIT, "job overrides: too many or too long");
    while (ok && pos < len) {
        const char *line = bytes + pos, *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t) (nl - line) : len - pos;
        const char *name;
        size_t name_len;
        long k;

        pos += ll + (nl != NULL);
        if (section(line, ll, &name, &name_len)) {
            if (in_job)
                ok = flush_missing(&b, key, value, n, done);
            in_job = name_len == 3 && memcmp(name, "job", 3) == 0;
            seen_job |= in_job;
        } else if (in_job && (k = line_key(line, ll, key, n)) >= 0) {
            if (!done[k] && value[k] != NULL)
                ok = put_kv(&b, key[k], value[k]);
            done[k] = 1;
            continue;
        }
        ok = ok && put(&b, line, ll) && put(&b, "\n", 1);
    }
    if (ok && in_job)
        ok = flush_missing(&b, key, value, n, done);
    if (!ok) {
        free(b.p);
        return fl_fail(eb, FL_ERR_NOMEM, "job overrides: out of memory");
    }
    if (!seen_job) {
        free(b.p);
        return fl_fail(eb, FL_ERR_PARSE, "job file has no [job] section");
    }
    *out = b.p;
    *out_len = b.len;
    return FL_OK;
}
