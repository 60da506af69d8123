/*
 * privacy/ledger.c: the node's write-ahead privacy budget ledger.
 *
 * Text format (docs/ledger.md), every line `<body> *<crc32 of body, 8 hex>`:
 *   dpfl-ledger 1 *xxxxxxxx
 *   R seq=1 job=<64 hex> round=0 q=... sigma=... steps=... clip=...
 *     delta=... acct=rdp eps=... time=<ms> *xxxxxxxx       (one line)
 *   C seq=1 time=<ms> *xxxxxxxx
 */
#include "privacy/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/durable.h"
#include "common/hex.h"

#define LEDGER_HEADER "dpfl-ledger 1"
#define CRC_SUFFIX_LEN 10 /* " *" + 8 hex digits */
#define NUM_MAX 40        /* longest numeric field we accept */

struct dp_ledger {
    char *path;
    int lock_fd;
    fl_appender_t *app;
    dp_ledger_entry_t *entries;
    size_t n;
    size_t cap;
    int broken; /* a write failed: the file's tail is unknown */
};

/* CRC-32 (IEEE 802.3, reflected), four bits at a time. */
static uint32_t
crc32_ieee(const char *p, size_t n)
{
    static const uint32_t tab[16] = {
        0x00000000U, 0x1db71064U, 0x3b6e20c8U, 0x26d930acU,
        0x76dc4190U, 0x6b6b51f4U, 0x4db26158U, 0x5005713cU,
        0xedb88320U, 0xf00f9344U, 0xd6d6a3e8U, 0xcb61b38cU,
        0x9b64c2b0U, 0x86d3d2d4U, 0xa00ae278U, 0xbdbdf21cU};
    uint32_t c = 0xffffffffU;

    for (size_t i = 0; i < n; i++) {
        c ^= (unsigned char) p[i];
        c = (c >> 4) ^ tab[c & 15U];
        c = (c >> 4) ^ tab[c & 15U];
    }
    return c ^ 0xffffffffU;
}

/* ---- parsing ---------------------------------------------------------- */

typedef struct cursor {
    const char *p;
    const char *end;
} cursor_t;

/*
 * Takes the next space-separated "key=value" token, checking the key.
 * On success *val and *vlen give the value inside the line.
 */
static int
take_field(cursor_t *c, const char *key, const char **val, size_t *vlen)
{
    size_t klen = strlen(key);
    const char *sp;

    if (c->p >= c->end || (size_t) (c->end - c->p) <= klen ||
        memcmp(c->p, key, klen) != 0 || c->p[klen] != '=')
        return 0;
    *val = c->p + klen + 1;
    sp = memchr(*val, ' ', (size_t) (c->end - *val));
    if (sp == NULL)
        sp = c->end;
    *vlen = (size_t) (sp - *val);
    c->p = sp < c->end ? sp + 1 : sp;
    return *vlen > 0;
}

/* Decimal integer: digits only, no sign, no leading zero (except "0"). */
static int
parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d;

        if (s[i] < '0' || s[i] > '9')
            return 0;
        d = (unsigned) (s[i] - '0');
        if (v > (max - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

/* A finite decimal number (no inf, nan or hex floats). */
static int
parse_double(const char *s, size_t n, double *out)
{
    char buf[NUM_MAX + 1];
    char *endp;
    double v;

    if (n == 0 || n > NUM_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (strchr("0123456789.eE+-", s[i]) == NULL || s[i] == '\0')
            return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    v = strtod(buf, &endp);
    if (endp != buf + n || errno == ERANGE || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

static int
is_job_hash(const char *s, size_t n)
{
    return n == DP_LEDGER_JOB_HASH_LEN && fl_hex_is_lower(s, n);
}

static int
is_accountant(const char *s, size_t n)
{
    if (n == 0 || n > DP_LEDGER_ACCOUNTANT_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_'))
            return 0;
    return 1;
}

/* Range checks shared by replay and reserve; returns a reason or NULL. */
static const char *
entry_invalid(const dp_ledger_entry_t *e)
{
    if (!is_job_hash(e->job_hash, strnlen(e->job_hash, 65)))
        return "job hash is not 64 lowercase hex digits";
    if (!(e->sgm.sampling_rate > 0.0 && e->sgm.sampling_rate <= 1.0))
        return "sampling rate q outside (0, 1]";
    if (!(e->sgm.noise_multiplier > 0.0 && isfinite(e->sgm.noise_multiplier)))
        return "noise multiplier sigma not finite and > 0";
    if (e->sgm.steps < 1 || e->sgm.steps > DP_LEDGER_MAX_STEPS)
        return "steps outside [1, 1e8]";
    if (!(e->clip > 0.0 && isfinite(e->clip)))
        return "clip norm not finite and > 0";
    if (!(e->delta > 0.0 && e->delta < 1.0))
        return "delta outside (0, 1)";
    if (!is_accountant(e->accountant, strnlen(e->accountant, 16)))
        return "accountant name is not [a-z0-9_]{1,15}";
    if (!(e->epsilon >= 0.0 && isfinite(e->epsilon)))
        return "epsilon not finite and >= 0";
    if (e->time_ms < 0)
        return "time before 1970";
    return NULL;
}

static int
take_u64(cursor_t *c, const char *key, uint64_t max, uint64_t *out)
{
    const char *v;
    size_t n;

    return take_field(c, key, &v, &n) && parse_u64(v, n, max, out);
}

static int
take_double(cursor_t *c, const char *key, double *out)
{
    const char *v;
    size_t n;

    return take_field(c, key, &v, &n) && parse_double(v, n, out);
}

static int
take_string(cursor_t *c, const char *key, char *dst, size_t dstlen,
            int (*ok)(const char *, size_t))
{
    const char *v;
    size_t n;

    if (!take_field(c, key, &v, &n) || n >= dstlen || !ok(v, n))
        return 0;
    memcpy(dst, v, n);
    dst[n] = '\0';
    return 1;
}

/* Parses the body of an R line (after "R "). Returns a reason or NULL. */
static const char *
parse_reservation(cursor_t *c, dp_ledger_entry_t *e)
{
    uint64_t t;

    memset(e, 0, sizeof *e);
    if (!take_u64(c, "seq", UINT64_MAX, &e->seq))
        return "bad or missing seq=";
    if (!take_string(c, "job", e->job_hash, sizeof e->job_hash, is_job_hash))
        return "bad or missing job= (64 lowercase hex digits)";
    if (!take_u64(c, "round", UINT64_MAX, &e->round))
        return "bad or missing round=";
    if (!take_double(c, "q", &e->sgm.sampling_rate))
        return "bad or missing q=";
    if (!take_double(c, "sigma", &e->sgm.noise_multiplier))
        return "bad or missing sigma=";
    if (!take_u64(c, "steps", DP_LEDGER_MAX_STEPS, &e->sgm.steps))
        return "bad or missing steps=";
    if (!take_double(c, "clip", &e->clip))
        return "bad or missing clip=";
    if (!take_double(c, "delta", &e->delta))
        return "bad or missing delta=";
    if (!take_string(c, "acct", e->accountant, sizeof e->accountant,
                     is_accountant))
        return "bad or missing acct=";
    if (!take_double(c, "eps", &e->epsilon))
        return "bad or missing eps=";
    if (!take_u64(c, "time", (uint64_t) INT64_MAX, &t))
        return "bad or missing time=";
    e->time_ms = (int64_t) t;
    if (c->p != c->end)
        return "unexpected text after time=";
    return entry_invalid(e);
}

static fl_err_t
grow(dp_ledger_t *l, fl_errbuf_t *eb)
{
    size_t cap;
    dp_ledger_entry_t *ne;

    if (l->n < l->cap)
        return FL_OK;
    if (l->n >= DP_LEDGER_MAX_ENTRIES)
        return fl_fail(eb, FL_ERR_LIMIT, "%s: more than %d reservations",
                       l->path, DP_LEDGER_MAX_ENTRIES);
    cap = l->cap ? l->cap * 2 : 64;
    if (cap > DP_LEDGER_MAX_ENTRIES)
        cap = DP_LEDGER_MAX_ENTRIES;
    ne = realloc(l->entries, cap * sizeof *ne);
    if (ne == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "%s: out of memory", l->path);
    l->entries = ne;
    l->cap = cap;
    return FL_OK;
}

/* Applies one checksummed body (line lineno) to the in-memory state. */
static fl_err_t
replay_body(dp_ledger_t *l, const char *body, size_t n, size_t lineno,
            fl_errbuf_t *eb)
{
    cursor_t c = {body + 2, body + n};
    const char *why;
    uint64_t seq, t;
    fl_err_t err;

    if (n >= 2 && memcmp(body, "R ", 2) == 0) {
        dp_ledger_entry_t e;

        if ((why = parse_reservation(&c, &e)) != NULL)
            return fl_fail(eb, FL_ERR_PARSE, "%s:%zu: reservation: %s", l->path,
                           lineno, why);
        if (e.seq != (uint64_t) l->n + 1)
            return fl_fail(eb, FL_ERR_PARSE,
                           "%s:%zu: reservation seq %" PRIu64
                           " where %zu was expected (entries missing or "
                           "reordered)",
                           l->path, lineno, e.seq, l->n + 1);
        if ((err = grow(l, eb)) != FL_OK)
            return fl_fail_prefix(eb, err, "%s:%zu", l->path, lineno);
        l->entries[l->n++] = e;
        return FL_OK;
    }
    if (n >= 2 && memcmp(body, "C ", 2) == 0) {
        if (!take_u64(&c, "seq", UINT64_MAX, &seq) ||
            !take_u64(&c, "time", (uint64_t) INT64_MAX, &t) || c.p != c.end)
            return fl_fail(eb, FL_ERR_PARSE,
                           "%s:%zu: commit: expected `C seq=N time=MS`",
                           l->path, lineno);
        if (seq == 0 || seq > l->n)
            return fl_fail(eb, FL_ERR_PARSE,
                           "%s:%zu: commit of reservation %" PRIu64
                           " which does not precede it",
                           l->path, lineno, seq);
        if (l->entries[seq - 1].committed)
            return fl_fail(eb, FL_ERR_PARSE,
                           "%s:%zu: second commit of reservation %" PRIu64,
                           l->path, lineno, seq);
        l->entries[seq - 1].committed = 1;
        l->entries[seq - 1].commit_time_ms = (int64_t) t;
        return FL_OK;
    }
    return fl_fail(eb, FL_ERR_PARSE,
                   "%s:%zu: unknown record (expected `R ` or `C `)", l->path,
                   lineno);
}

/* Checks the CRC suffix; on success *bodylen is the length before it. */
static int
check_crc(const char *line, size_t n, size_t *bodylen)
{
    uint64_t want;

    if (n < CRC_SUFFIX_LEN + 1 || line[n - CRC_SUFFIX_LEN] != ' ' ||
        line[n - CRC_SUFFIX_LEN + 1] != '*')
        return 0;
    want = 0;
    for (size_t i = n - 8; i < n; i++) {
        int d = fl_hex_digit(line[i], 0);

        if (d < 0)
            return 0;
        want = want * 16 + (unsigned) d;
    }
    *bodylen = n - CRC_SUFFIX_LEN;
    return crc32_ieee(line, *bodylen) == (uint32_t) want;
}

static fl_err_t
replay_line(dp_ledger_t *l, const char *line, size_t n, size_t lineno,
            fl_errbuf_t *eb)
{
    size_t bodylen;

    if (n > DP_LEDGER_MAX_LINE)
        return fl_fail(eb, FL_ERR_LIMIT, "%s:%zu: line longer than %d bytes",
                       l->path, lineno, DP_LEDGER_MAX_LINE);
    if (memchr(line, '\0', n) != NULL)
        return fl_fail(eb, FL_ERR_PARSE,
                       "%s:%zu: NUL byte in line (disk corruption or a "
                       "partly written block?)",
                       l->path, lineno);
    if (!check_crc(line, n, &bodylen))
        return fl_fail(eb, FL_ERR_PARSE,
                       "%s:%zu: checksum missing or wrong (line corrupted "
                       "or edited)",
                       l->path, lineno);
    if (lineno == 1) {
        if (bodylen != strlen(LEDGER_HEADER) ||
            memcmp(line, LEDGER_HEADER, bodylen) != 0)
            return fl_fail(eb, FL_ERR_PARSE,
                           "%s:1: not a dpfl ledger (expected header `%s`)",
                           l->path, LEDGER_HEADER);
        return FL_OK;
    }
    return replay_body(l, line, bodylen, lineno, eb);
}

static fl_err_t
replay(dp_ledger_t *l, const char *buf, size_t len, fl_errbuf_t *eb)
{
    size_t off = 0, lineno = 0;
    fl_err_t err;

    while (off < len) {
        const char *nl = memchr(buf + off, '\n', len - off);
        size_t n;

        lineno++;
        if (nl == NULL)
            return fl_fail(eb, FL_ERR_PARSE,
                           "%s:%zu: incomplete final line (%zu bytes, no "
                           "newline): the node stopped while writing it. "
                           "Nothing was changed; check the disk, keep a copy, "
                           "then drop the line with `truncate -s %zu` on the "
                           "file (docs/ledger.md)",
                           l->path, lineno, len - off, off);
        n = (size_t) (nl - (buf + off));
        err = replay_line(l, buf + off, n, lineno, eb);
        if (err != FL_OK)
            return err;
        off += n + 1;
    }
    return FL_OK;
}

/* ---- open / close ----------------------------------------------------- */

static fl_err_t
lock_file(dp_ledger_t *l, int *created, fl_errbuf_t *eb)
{
    fl_err_t err = fl_file_lock_exclusive(l->path, &l->lock_fd, created, eb);

    if (err == FL_ERR_STATE)
        return fl_fail(eb, FL_ERR_STATE,
                       "%s: locked by another process (is another node "
                       "running on this dataset?)",
                       l->path);
    return err;
}

/*
 * Reads the whole file through the locked descriptor. POSIX record locks
 * are dropped when the process closes ANY descriptor of the file, so the
 * ledger never opens and closes a second one while it holds the lock.
 */
static fl_err_t
read_locked(dp_ledger_t *l, size_t max_bytes, char **out, size_t *len,
            fl_errbuf_t *eb)
{
    return fl_fd_read_all(l->lock_fd, l->path, max_bytes, out, len, eb);
}

static fl_err_t
write_line(dp_ledger_t *l, const char *body, size_t bodylen, fl_errbuf_t *eb)
{
    char line[DP_LEDGER_MAX_LINE + 2];
    int k;

    if (bodylen + CRC_SUFFIX_LEN > DP_LEDGER_MAX_LINE)
        return fl_fail(eb, FL_ERR_LIMIT, "%s: record longer than %d bytes",
                       l->path, DP_LEDGER_MAX_LINE);
    memcpy(line, body, bodylen);
    k = snprintf(line + bodylen, sizeof line - bodylen, " *%08" PRIx32 "\n",
                 crc32_ieee(body, bodylen));
    if (k != CRC_SUFFIX_LEN + 1)
        return fl_fail(eb, FL_ERR_INTERNAL, "%s: checksum format", l->path);
    if (fl_appender_write(l->app, line, bodylen + (size_t) k, eb) != FL_OK) {
        l->broken = 1;
        return FL_ERR_IO;
    }
    return FL_OK;
}

fl_err_t
dp_ledger_open(const char *path, dp_ledger_t **out, fl_errbuf_t *eb)
{
    const size_t max_bytes =
        (size_t) (2 * DP_LEDGER_MAX_ENTRIES + 1) * (DP_LEDGER_MAX_LINE + 1);
    dp_ledger_t *l;
    char *buf = NULL;
    size_t len = 0;
    int created = 0;
    fl_err_t err;

    *out = NULL;
    l = calloc(1, sizeof *l);
    if (l == NULL || (l->path = strdup(path)) == NULL) {
        free(l);
        return fl_fail(eb, FL_ERR_NOMEM, "%s: out of memory", path);
    }
    l->lock_fd = -1;
    if ((err = lock_file(l, &created, eb)) != FL_OK)
        goto out;
    if (created && (err = fl_dir_fsync_parent(path, eb)) != FL_OK)
        goto out;
    if ((err = read_locked(l, max_bytes, &buf, &len, eb)) != FL_OK)
        goto out;
    if ((err = replay(l, buf, len, eb)) != FL_OK)
        goto out;
    if ((err = fl_appender_open(path, &l->app, eb)) != FL_OK)
        goto out;
    if (len == 0)
        err = write_line(l, LEDGER_HEADER, strlen(LEDGER_HEADER), eb);
out:
    free(buf);
    if (err != FL_OK)
        dp_ledger_close(&l);
    *out = l;
    return err;
}

void
dp_ledger_close(dp_ledger_t **ledger_p)
{
    dp_ledger_t *l = *ledger_p;

    if (l == NULL)
        return;
    fl_appender_close(&l->app);
    if (l->lock_fd >= 0)
        (void) close(l->lock_fd);
    free(l->entries);
    free(l->path);
    free(l);
    *ledger_p = NULL;
}

/* ---- writes ----------------------------------------------------------- */

fl_err_t
dp_ledger_reserve(dp_ledger_t *l, const dp_ledger_entry_t *entry, uint64_t *seq,
                  fl_errbuf_t *eb)
{
    char body[DP_LEDGER_MAX_LINE + 1];
    dp_ledger_entry_t e = *entry;
    const char *why;
    fl_err_t err;
    int k;

    if (l->broken)
        return fl_fail(eb, FL_ERR_STATE,
                       "%s: an earlier write failed; reopen the ledger",
                       l->path);
    e.seq = (uint64_t) l->n + 1;
    e.time_ms = fl_clock_wall_ms();
    e.committed = 0;
    e.commit_time_ms = 0;
    if ((why = entry_invalid(&e)) != NULL)
        return fl_fail(eb, FL_ERR_INVALID, "%s: reservation: %s", l->path, why);
    /* Room first, so that nothing can fail after the line is on disk. */
    if ((err = grow(l, eb)) != FL_OK)
        return err;
    k = snprintf(body, sizeof body,
                 "R seq=%" PRIu64 " job=%s round=%" PRIu64
                 " q=%.17g sigma=%.17g steps=%" PRIu64
                 " clip=%.17g delta=%.17g acct=%s eps=%.17g time=%" PRId64,
                 e.seq, e.job_hash, e.round, e.sgm.sampling_rate,
                 e.sgm.noise_multiplier, e.sgm.steps, e.clip, e.delta,
                 e.accountant, e.epsilon, e.time_ms);
    if (k < 0 || (size_t) k >= sizeof body)
        return fl_fail(eb, FL_ERR_LIMIT, "%s: reservation too long", l->path);
    if ((err = write_line(l, body, (size_t) k, eb)) != FL_OK)
        return err;
    l->entries[l->n++] = e;
    *seq = e.seq;
    return FL_OK;
}

fl_err_t
dp_ledger_commit(dp_ledger_t *l, uint64_t seq, fl_errbuf_t *eb)
{
    char body[96];
    int64_t now;
    fl_err_t err;
    int k;

    if (l->broken)
        return fl_fail(eb, FL_ERR_STATE,
                       "%s: an earlier write failed; reopen the ledger",
                       l->path);
    if (seq == 0 || seq > l->n)
        return fl_fail(eb, FL_ERR_NOT_FOUND, "%s: no reservation %" PRIu64,
                       l->path, seq);
    if (l->entries[seq - 1].committed)
        return fl_fail(eb, FL_ERR_STATE,
                       "%s: reservation %" PRIu64 " already committed", l->path,
                       seq);
    now = fl_clock_wall_ms();
    k = snprintf(body, sizeof body, "C seq=%" PRIu64 " time=%" PRId64, seq,
                 now);
    if (k < 0 || (size_t) k >= sizeof body)
        return fl_fail(eb, FL_ERR_INTERNAL, "%s: commit format", l->path);
    if ((err = write_line(l, body, (size_t) k, eb)) != FL_OK)
        return err;
    l->entries[seq - 1].committed = 1;
    l->entries[seq - 1].commit_time_ms = now;
    return FL_OK;
}

/* ---- queries ---------------------------------------------------------- */

fl_err_t
dp_ledger_history(const dp_ledger_t *l, const char *job_hash, dp_sgm_t **hist,
                  size_t *n, fl_errbuf_t *eb)
{
    dp_sgm_t *h = NULL;
    size_t k = 0;

    *hist = NULL;
    *n = 0;
    if (job_hash != NULL && !is_job_hash(job_hash, strlen(job_hash)))
        return fl_fail(eb, FL_ERR_INVALID,
                       "job hash is not 64 lowercase hex digits");
    if (l->n == 0)
        return FL_OK;
    h = malloc(l->n * sizeof *h);
    if (h == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "%s: out of memory", l->path);
    for (size_t i = 0; i < l->n; i++)
        if (job_hash == NULL || strcmp(job_hash, l->entries[i].job_hash) == 0)
            h[k++] = l->entries[i].sgm;
    if (k == 0) {
        free(h);
        h = NULL;
    }
    *hist = h;
    *n = k;
    return FL_OK;
}

size_t
dp_ledger_count(const dp_ledger_t *l)
{
    return l->n;
}

size_t
dp_ledger_uncommitted_count(const dp_ledger_t *l)
{
    size_t k = 0;

    for (size_t i = 0; i < l->n; i++)
        k += !l->entries[i].committed;
    return k;
}

const dp_ledger_entry_t *
dp_ledger_get(const dp_ledger_t *l, size_t i)
{
    return i < l->n ? &l->entries[i] : NULL;
}

double
dp_ledger_last_epsilon(const dp_ledger_t *l)
{
    double m = 0.0;

    for (size_t i = 0; i < l->n; i++)
        if (l->entries[i].epsilon > m)
            m = l->entries[i].epsilon;
    return m;
}
