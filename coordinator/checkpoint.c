/* coordinator/checkpoint.c: serialise and restore coordinator state. */
#include "coordinator/checkpoint.h"

#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "common/durable.h"

static const char ckpt_magic[8] = {'D', 'P', 'F', 'L', 'C', 'K', 'P', '1'};
#define CKPT_VERSION 2u

/* A growable output buffer. */
typedef struct wbuf {
    uint8_t *p;
    size_t len;
    size_t cap;
    int failed;
} wbuf_t;

static void
w_bytes(wbuf_t *w, const void *data, size_t n)
{
    if (w->failed)
        return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        uint8_t *p;

        while (cap < w->len + n)
            cap *= 2;
        p = realloc(w->p, cap);
        if (p == NULL) {
            w->failed = 1;
            return;
        }
        w->p = p;
        w->cap = cap;
    }
    memcpy(w->p + w->len, data, n);
    w->len += n;
}

static void
w_u64(wbuf_t *w, uint64_t v, size_t bytes)
{
    uint8_t b[8];

    for (size_t i = 0; i < bytes; i++)
        b[i] = (uint8_t) (v >> (8 * i));
    w_bytes(w, b, bytes);
}

static void
w_f64(wbuf_t *w, double d)
{
    uint64_t v;

    memcpy(&v, &d, sizeof v);
    w_u64(w, v, 8);
}

static void
w_f32s(wbuf_t *w, const float *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t v;

        memcpy(&v, &f[i], sizeof v);
        w_u64(w, v, 4);
    }
}

static void
w_site(wbuf_t *w, const coord_site_t *s)
{
    size_t idlen = strlen(s->id);

    w_u64(w, idlen, 1);
    w_bytes(w, s->id, idlen);
    w_u64(w, s->records, 8);
    w_f64(w, s->epsilon_max);
    w_f64(w, s->delta);
    w_u64(w, (uint64_t) s->accountant, 1);
    w_f64(w, s->epsilon);
    w_u64(w, s->rounds_charged, 4);
    w_u64(w, (uint64_t) (s->exhausted != 0), 1);
    w_u64(w, s->n_hist, 4);
    for (size_t h = 0; h < s->n_hist; h++) {
        w_f64(w, s->hist[h].sampling_rate);
        w_f64(w, s->hist[h].noise_multiplier);
        w_u64(w, s->hist[h].steps, 8);
    }
}

fl_err_t
coord_ckpt_save(const char *path, const coord_ckpt_t *ck, fl_errbuf_t *eb)
{
    wbuf_t w = {0};
    uint8_t digest[32];
    unsigned int dlen = 0;
    size_t vectors = coord_server_opt_state_vectors(ck->opt->kind);
    fl_err_t err;

    w_bytes(&w, ckpt_magic, sizeof ckpt_magic);
    w_u64(&w, CKPT_VERSION, 4);
    w_bytes(&w, ck->job_hash, 32);
    w_u64(&w, ck->rounds_done, 4);
    w_u64(&w, ck->dim, 8);
    w_f32s(&w, ck->model, ck->dim);
    w_u64(&w, (uint64_t) ck->opt->kind, 4);
    w_u64(&w, ck->opt->steps, 8);
    if (vectors >= 1)
        w_f32s(&w, ck->opt->m, ck->dim);
    if (vectors >= 2)
        w_f32s(&w, ck->opt->v, ck->dim);
    w_u64(&w, ck->budget->n, 4);
    for (size_t i = 0; i < ck->budget->n; i++)
        w_site(&w, &ck->budget->sites[i]);
    if (w.failed) {
        free(w.p);
        return fl_fail(eb, FL_ERR_NOMEM, "%s: out of memory", path);
    }
    if (EVP_Digest(w.p, w.len, digest, &dlen, EVP_sha256(), NULL) != 1) {
        free(w.p);
        return fl_fail(eb, FL_ERR_CRYPTO, "%s: SHA-256 failed", path);
    }
    w_bytes(&w, digest, sizeof digest);
    err = w.failed ? fl_fail(eb, FL_ERR_NOMEM, "%s: out of memory", path)
                   : fl_file_replace_atomic(path, w.p, w.len, eb);
    free(w.p);
    return err;
}

/* A bounds-checked reader; any overrun sets failed and yields zeros. */
typedef struct rbuf {
    const uint8_t *p;
    size_t len;
    size_t pos;
    int failed;
} rbuf_t;

static const uint8_t *
r_take(rbuf_t *r, size_t n)
{
    const uint8_t *p;

    if (r->failed || n > r->len - r->pos) {
        r->failed = 1;
        return NULL;
    }
    p = r->p + r->pos;
    r->pos += n;
    return p;
}

static uint64_t
r_u64(rbuf_t *r, size_t bytes)
{
    const uint8_t *b = r_take(r, bytes);
    uint64_t v = 0;

    for (size_t i = 0; b != NULL && i < bytes; i++)
        v |= (uint64_t) b[i] << (8 * i);
    return v;
}

static double
r_f64(rbuf_t *r)
{
    uint64_t v = r_u64(r, 8);
    double d;

    memcpy(&d, &v, sizeof d);
    return d;
}

static void
r_f32s(rbuf_t *r, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t) r_u64(r, 4);

        memcpy(&out[i], &v, sizeof v);
        if (!isfinite(out[i]))
            r->failed = 1;
    }
}

static fl_err_t
r_site(rbuf_t *r, coord_budget_t *b, const char *path, fl_errbuf_t *eb)
{
    char id[COORD_SITE_ID_MAX + 1];
    size_t idlen = (size_t) r_u64(r, 1);
    const uint8_t *idp;
    uint64_t records;
    double eps_max, delta, eps;
    uint32_t rounds, n_hist;
    int exhausted, acct;
    coord_site_t *s;
    fl_err_t err;

    if (idlen == 0 || idlen > COORD_SITE_ID_MAX ||
        (idp = r_take(r, idlen)) == NULL)
        return fl_fail(eb, FL_ERR_PARSE, "%s: bad site id", path);
    memcpy(id, idp, idlen);
    id[idlen] = '\0';
    records = r_u64(r, 8);
    eps_max = r_f64(r);
    delta = r_f64(r);
    acct = (int) r_u64(r, 1);
    eps = r_f64(r);
    rounds = (uint32_t) r_u64(r, 4);
    exhausted = (int) r_u64(r, 1);
    n_hist = (uint32_t) r_u64(r, 4);
    if (r->failed || !(eps >= 0) || !isfinite(eps) || exhausted > 1 ||
        n_hist > COORD_MAX_HISTORY)
        return fl_fail(eb, FL_ERR_PARSE, "%s: site %s: bad fields", path, id);
    err = coord_budget_add_site(b, id, records, eps_max, delta,
                                (dp_accountant_kind_t) acct, &s, eb);
    if (err != FL_OK)
        return fl_fail_prefix(eb, FL_ERR_PARSE, "%s", path);
    s->epsilon = eps;
    s->rounds_charged = rounds;
    s->exhausted = exhausted;
    for (uint32_t h = 0; h < n_hist; h++) {
        dp_sgm_t m;

        m.sampling_rate = r_f64(r);
        m.noise_multiplier = r_f64(r);
        m.steps = r_u64(r, 8);
        if (r->failed || !(m.sampling_rate > 0 && m.sampling_rate <= 1) ||
            !(m.noise_multiplier > 0) || !isfinite(m.noise_multiplier) ||
            m.steps == 0)
            return fl_fail(eb, FL_ERR_PARSE, "%s: site %s: bad history", path,
                           id);
        err = coord_budget_push_history(s, &m, eb);
        if (err != FL_OK)
            return fl_fail_prefix(eb, FL_ERR_PARSE, "%s", path);
    }
    return FL_OK;
}

/* Checks magic, version and trailer; sets r to the body. */
static fl_err_t
check_envelope(const uint8_t *p, size_t len, rbuf_t *r, const char *path,
               fl_errbuf_t *eb)
{
    uint8_t digest[32];
    unsigned int dlen = 0;

    if (len < sizeof ckpt_magic + 4 + 32 ||
        memcmp(p, ckpt_magic, sizeof ckpt_magic) != 0)
        return fl_fail(eb, FL_ERR_PARSE, "%s: not a dpfl checkpoint", path);
    if (EVP_Digest(p, len - 32, digest, &dlen, EVP_sha256(), NULL) != 1)
        return fl_fail(eb, FL_ERR_CRYPTO, "%s: SHA-256 failed", path);
    if (CRYPTO_memcmp(digest, p + len - 32, 32) != 0)
        return fl_fail(eb, FL_ERR_PARSE,
                       "%s: checksum mismatch (file corrupted)", path);
    r->p = p;
    r->len = len - 32;
    r->pos = sizeof ckpt_magic;
    if (r_u64(r, 4) != CKPT_VERSION)
        return fl_fail(eb, FL_ERR_PARSE, "%s: unsupported version", path);
    return FL_OK;
}

static fl_err_t
load_body(rbuf_t *r, coord_ckpt_t *ck, const char *path, fl_errbuf_t *eb)
{
    const uint8_t *hash = r_take(r, 32);
    size_t vectors = coord_server_opt_state_vectors(ck->opt->kind);
    uint64_t dim;
    uint32_t n_sites;
    fl_err_t err;

    if (hash == NULL || memcmp(hash, ck->job_hash, 32) != 0)
        return fl_fail(eb, FL_ERR_STATE,
                       "%s: checkpoint of another job (job hash differs)",
                       path);
    ck->rounds_done = (uint32_t) r_u64(r, 4);
    dim = r_u64(r, 8);
    if (r->failed || dim != ck->dim)
        return fl_fail(eb, FL_ERR_STATE, "%s: model dimension differs", path);
    r_f32s(r, ck->model, ck->dim);
    if (r_u64(r, 4) != (uint64_t) ck->opt->kind)
        return fl_fail(eb, FL_ERR_STATE, "%s: server optimiser differs", path);
    ck->opt->steps = r_u64(r, 8);
    if (vectors >= 1)
        r_f32s(r, ck->opt->m, ck->dim);
    if (vectors >= 2)
        r_f32s(r, ck->opt->v, ck->dim);
    n_sites = (uint32_t) r_u64(r, 4);
    if (r->failed || n_sites > COORD_MAX_SITES)
        return fl_fail(eb, FL_ERR_PARSE, "%s: bad model or state", path);
    for (uint32_t i = 0; i < n_sites; i++) {
        err = r_site(r, ck->budget, path, eb);
        if (err != FL_OK)
            return err;
    }
    if (r->pos != r->len)
        return fl_fail(eb, FL_ERR_PARSE, "%s: trailing bytes", path);
    return FL_OK;
}

fl_err_t
coord_ckpt_load(const char *path, coord_ckpt_t *ck, fl_errbuf_t *eb)
{
    char *bytes = NULL;
    size_t len = 0;
    rbuf_t r = {0};
    fl_err_t err;

    err = fl_file_read_all(path, COORD_CKPT_MAX_BYTES, &bytes, &len, eb);
    if (err != FL_OK)
        return err;
    err = check_envelope((const uint8_t *) bytes, len, &r, path, eb);
    if (err == FL_OK)
        err = load_body(&r, ck, path, eb);
    free(bytes);
    return err;
}
