/*
 * privacy/audit_verify.c: the offline check of an audit log and its
 * witnesses (what `dpfl-audit verify` runs).
 *
 * Order of work: the main log's first entry (to learn its owner), then each
 * witness log in full (its own chain, signatures, epsilons, and the
 * coordinator heads it recorded for that owner), then the rest of the main
 * log, comparing each entry with the heads witnessed at its sequence number.
 * Memory grows with the number of witnessed heads and privacy_spent
 * entries (plus at most MAX_RUNNING running RDP compositions), never with
 * the raw log size.
 *
 * Epsilons: each spend's epsilon is over the site's whole history so far.
 * For rdp spends checked with the built-in accountant function, a running
 * composition per site (dp_rdp_running_t) adds one entry per spend and
 * gives the same doubles as a recomputation; everything else (pld spends,
 * another epsilon function, sites past MAX_RUNNING, any error) is
 * recomputed from the whole history.
 */
#include "privacy/audit.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "privacy/accountant.h"
#include "privacy/rdp.h"

#define MAX_SITES 100000
#define MAX_HEADS 10000000
/* Running RDP compositions kept (about 12 KB each, so 24 MB at most);
 * sites past it are recomputed from their whole history, with the same
 * results, only slower. */
#define MAX_RUNNING 2000

/* ---- per-site histories ----------------------------------------------- */

typedef struct site_hist {
    char *site; /* NULL: empty slot */
    dp_sgm_t *h;
    size_t n, cap;
    /* The RDP composition of h[0..) so far, per dp_orders_t grid the
     * site's rdp spends use; NULL until the first such spend. */
    dp_rdp_running_t *rdp[2];
} site_hist_t;

typedef struct site_table {
    site_hist_t *slots;
    size_t cap, used;
    size_t n_running; /* rdp compositions allocated, <= MAX_RUNNING */
} site_table_t;

static uint64_t
fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char) *s;
        h *= 1099511628211ULL;
    }
    return h;
}

static void
table_free(site_table_t *t)
{
    for (size_t i = 0; i < t->cap; i++) {
        free(t->slots[i].site);
        free(t->slots[i].h);
        dp_rdp_running_destroy(&t->slots[i].rdp[0]);
        dp_rdp_running_destroy(&t->slots[i].rdp[1]);
    }
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static site_hist_t *
table_slot(site_hist_t *slots, size_t cap, const char *site)
{
    size_t i = (size_t) (fnv1a(site) & (cap - 1));

    while (slots[i].site != NULL && strcmp(slots[i].site, site) != 0)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static int
table_grow(site_table_t *t)
{
    size_t cap = t->cap ? t->cap * 2 : 64;
    site_hist_t *ns = calloc(cap, sizeof *ns);

    if (ns == NULL)
        return 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].site != NULL)
            *table_slot(ns, cap, t->slots[i].site) = t->slots[i];
    free(t->slots);
    t->slots = ns;
    t->cap = cap;
    return 1;
}

/* The site's history, created when new; NULL on no memory or too many. */
static site_hist_t *
table_get(site_table_t *t, const char *site)
{
    site_hist_t *s;

    if (t->cap == 0 || 2 * (t->used + 1) > t->cap) {
        if (t->used >= MAX_SITES || !table_grow(t))
            return NULL;
    }
    s = table_slot(t->slots, t->cap, site);
    if (s->site == NULL) {
        if ((s->site = strdup(site)) == NULL)
            return NULL;
        t->used++;
    }
    return s;
}

static int
hist_push(site_hist_t *s, dp_sgm_t sgm)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        dp_sgm_t *nh = realloc(s->h, cap * sizeof *nh);

        if (nh == NULL)
            return 0;
        s->h = nh;
        s->cap = cap;
    }
    s->h[s->n++] = sgm;
    return 1;
}

/* ---- checks shared by every log --------------------------------------- */

typedef struct verify_ctx {
    const dp_audit_verify_opts_t *opts;
    dp_audit_verify_report_t *rep;
    const char *owner; /* the main log's owner */
} verify_ctx_t;

/*
 * The epsilon of an rdp spend over the site's whole history h->h[0..h->n)
 * from the site's running composition: one entry added per spend instead
 * of a pass over the history, with the very doubles
 * dp_audit_epsilon_accountant() gives (rdp.h). Returns 0 when the caller
 * must recompute from the whole history instead: no composition could be
 * kept, or any error, which the recomputation then reports as before.
 */
static int
running_epsilon(site_table_t *t, site_hist_t *h, const dp_audit_spend_t *s,
                double *eps)
{
    double orders[DP_RDP_MAX_ORDERS], order;
    fl_errbuf_t scratch = {{0}};
    dp_accountant_kind_t kind;
    dp_orders_t grid;
    dp_rdp_running_t **r;

    if (dp_accountant_kind_parse(s->accountant, &kind) != FL_OK ||
        kind != DP_ACCOUNTANT_RDP ||
        dp_orders_parse(s->rdp_orders != NULL ? s->rdp_orders : "default",
                        &grid) != FL_OK ||
        (unsigned) grid > 1)
        return 0;
    r = &h->rdp[grid];
    if (*r == NULL) {
        size_t n_orders = dp_rdp_grid_orders(
            grid == DP_ORDERS_OPACUS ? DP_RDP_GRID_OPACUS : DP_RDP_GRID_DEFAULT,
            orders, DP_RDP_MAX_ORDERS);

        if (t->n_running >= MAX_RUNNING ||
            dp_rdp_running_new(orders, n_orders, r, &scratch) != FL_OK)
            return 0;
        t->n_running++;
    }
    while (dp_rdp_running_count(*r) < h->n)
        if (dp_rdp_running_add(*r, &h->h[dp_rdp_running_count(*r)], &scratch) !=
            FL_OK)
            return 0;
    return dp_rdp_running_epsilon(*r, s->delta, eps, &order, &scratch) == FL_OK;
}

static fl_err_t
check_spend(verify_ctx_t *v, site_table_t *t, const char *path,
            const dp_audit_entry_t *e, fl_errbuf_t *eb)
{
    dp_audit_accounting_t acct;
    dp_audit_spend_t s;
    site_hist_t *h;
    const char *why;
    double eps = 0.0;
    fl_err_t err;

    if (!dp_audit_parse_spend(e->body, &s, &why))
        return fl_fail(eb, FL_ERR_PARSE, "%s:%zu (seq %" PRIu64 "): %s", path,
                       e->line, e->seq, why);
    if ((h = table_get(t, s.site)) == NULL || !hist_push(h, s.sgm))
        return fl_fail(eb, FL_ERR_LIMIT,
                       "%s:%zu (seq %" PRIu64 "): out of memory or more "
                       "than %d sites",
                       path, e->line, e->seq, MAX_SITES);
    v->rep->spends++;
    if (v->opts->epsilon == NULL)
        return FL_OK;
    acct.accountant = s.accountant;
    acct.pld_interval = s.pld_interval;
    acct.rdp_orders = s.rdp_orders != NULL ? s.rdp_orders : "default";
    acct.delta = s.delta;
    /* The running composition stands in only for the built-in function,
     * whose results it reproduces exactly; any other is called as
     * documented, with the whole history. */
    if (v->opts->epsilon == dp_audit_epsilon_accountant &&
        running_epsilon(t, h, &s, &eps))
        err = FL_OK;
    else
        err =
            v->opts->epsilon(v->opts->epsilon_ctx, &acct, h->h, h->n, &eps, eb);
    if (err != FL_OK)
        return fl_fail_prefix(eb, err, "%s:%zu (seq %" PRIu64 "): %s", path,
                              e->line, e->seq, s.site);
    if (!(fabs(s.epsilon - eps) <=
          v->opts->abs_tol + v->opts->rel_tol * fabs(eps)))
        return fl_fail(eb, FL_ERR_AUTH,
                       "%s:%zu (seq %" PRIu64 "): %s round %" PRIu64
                       ": logged epsilon %.17g, but the %s accountant gives "
                       "%.17g for its %zu-round history at delta %g",
                       path, e->line, e->seq, s.site, s.round, s.epsilon,
                       s.accountant, eps, h->n, s.delta);
    return FL_OK;
}

/* ---- witnessed heads -------------------------------------------------- */

typedef struct head {
    uint64_t seq;
    unsigned char hash[32];
    size_t witness; /* index into the witness array */
    size_t line;    /* line in the witness log */
    uint64_t round;
} head_t;

typedef struct head_list {
    head_t *v;
    size_t n, cap;
} head_list_t;

static int
head_push(head_list_t *l, const head_t *h)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        head_t *nv;

        if (l->n >= MAX_HEADS)
            return 0;
        nv = realloc(l->v, cap * sizeof *nv);
        if (nv == NULL)
            return 0;
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = *h;
    return 1;
}

static int
head_cmp(const void *a, const void *b)
{
    const head_t *x = a, *y = b;

    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    if (x->witness != y->witness)
        return x->witness < y->witness ? -1 : 1;
    return x->line < y->line ? -1 : (x->line > y->line);
}

static fl_err_t
read_witness(verify_ctx_t *v, const dp_audit_witness_t *w, size_t wi,
             head_list_t *heads, fl_errbuf_t *eb)
{
    dp_audit_reader_t *r = NULL;
    site_table_t t = {0};
    dp_audit_entry_t e;
    int eof = 0;
    fl_err_t err;

    if ((err = dp_audit_reader_open(w->path, w->key, &r, eb)) != FL_OK)
        return err;
    for (;;) {
        const char *coord, *why;
        head_t h;

        if ((err = dp_audit_reader_next(r, &e, &eof, eb)) != FL_OK || eof)
            break;
        v->rep->witness_entries++;
        if (strcmp(e.type, DP_AUDIT_EV_PRIVACY_SPENT) == 0 &&
            (err = check_spend(v, &t, w->path, &e, eb)) != FL_OK)
            break;
        if (strcmp(e.type, DP_AUDIT_EV_COORDINATOR_HEAD) != 0)
            continue;
        if (!dp_audit_parse_head(e.body, &coord, &h.seq, h.hash, &h.round,
                                 &why)) {
            err = fl_fail(eb, FL_ERR_PARSE, "%s:%zu (seq %" PRIu64 "): %s",
                          w->path, e.line, e.seq, why);
            break;
        }
        if (strcmp(coord, v->owner) != 0) {
            v->rep->heads_other++;
            continue;
        }
        h.witness = wi;
        h.line = e.line;
        if (!head_push(heads, &h)) {
            err = fl_fail(eb, FL_ERR_LIMIT, "%s:%zu: too many heads", w->path,
                          e.line);
            break;
        }
    }
    table_free(&t);
    dp_audit_reader_close(&r);
    return err;
}

/* Compares the main log's entry e with every head witnessed at e.seq. */
static fl_err_t
match_heads(verify_ctx_t *v, const char *path, const dp_audit_entry_t *e,
            const head_list_t *heads, size_t *hi, const dp_audit_witness_t *w,
            fl_errbuf_t *eb)
{
    for (; *hi < heads->n && heads->v[*hi].seq == e->seq; (*hi)++) {
        const head_t *h = &heads->v[*hi];

        if (CRYPTO_memcmp(h->hash, e->hash, 32) != 0)
            return fl_fail(eb, FL_ERR_AUTH,
                           "%s:%zu (seq %" PRIu64 "): differs from the head "
                           "%s:%zu witnessed (round %" PRIu64 "): this log "
                           "was rewritten after that head was sent",
                           path, e->line, e->seq, w[h->witness].path, h->line,
                           h->round);
        v->rep->heads++;
    }
    return FL_OK;
}

static fl_err_t
main_rest(verify_ctx_t *v, dp_audit_reader_t *r, site_table_t *t,
          const head_list_t *heads, const dp_audit_witness_t *w,
          fl_errbuf_t *eb)
{
    const char *path = dp_audit_reader_path(r);
    dp_audit_entry_t e;
    uint64_t last = 1;
    size_t hi = 0;
    int eof = 0;
    fl_err_t err;

    /* Heads at seq 1 were matched by the caller. */
    while (hi < heads->n && heads->v[hi].seq <= 1)
        hi++;
    for (;;) {
        if ((err = dp_audit_reader_next(r, &e, &eof, eb)) != FL_OK || eof)
            break;
        v->rep->entries++;
        last = e.seq;
        if (strcmp(e.type, DP_AUDIT_EV_PRIVACY_SPENT) == 0 &&
            (err = check_spend(v, t, path, &e, eb)) != FL_OK)
            break;
        if ((err = match_heads(v, path, &e, heads, &hi, w, eb)) != FL_OK)
            break;
    }
    if (err == FL_OK && hi < heads->n) {
        const head_t *h = &heads->v[hi];

        err =
            fl_fail(eb, FL_ERR_AUTH,
                    "%s:%zu witnessed head seq %" PRIu64 " (round %" PRIu64
                    ") but %s ends at seq %" PRIu64 ": its tail was cut off",
                    w[h->witness].path, h->line, h->seq, h->round, path, last);
    }
    return err;
}

fl_err_t
dp_audit_epsilon_accountant(void *ctx, const dp_audit_accounting_t *acct,
                            const dp_sgm_t *hist, size_t n, double *epsilon,
                            fl_errbuf_t *eb)
{
    dp_accountant_opts_t o;
    dp_epsilon_t out;
    fl_err_t err;

    (void) ctx;
    memset(&o, 0, sizeof o);
    if (dp_accountant_kind_parse(acct->accountant, &o.kind) != FL_OK)
        return fl_fail(eb, FL_ERR_INVALID, "unknown accountant \"%s\"",
                       acct->accountant);
    o.orders = DP_ORDERS_DEFAULT;
    if (acct->rdp_orders != NULL &&
        dp_orders_parse(acct->rdp_orders, &o.orders) != FL_OK)
        return fl_fail(eb, FL_ERR_INVALID, "unknown rdp orders \"%s\"",
                       acct->rdp_orders);
    o.pld_interval = acct->pld_interval > 0.0 ? acct->pld_interval : 0.0;
    err = dp_accountant_epsilon(&o, hist, n, acct->delta, &out, eb);
    if (err == FL_OK)
        *epsilon = out.epsilon;
    return err;
}

void
dp_audit_verify_opts_init(dp_audit_verify_opts_t *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->rel_tol = 1e-6;
    opts->abs_tol = 1e-9;
}

fl_err_t
dp_audit_verify(const char *path, EVP_PKEY *key,
                const dp_audit_witness_t *witnesses, size_t n_witness,
                const dp_audit_verify_opts_t *opts,
                dp_audit_verify_report_t *report, fl_errbuf_t *eb)
{
    dp_audit_verify_report_t dummy;
    dp_audit_reader_t *r = NULL;
    head_list_t heads = {0};
    site_table_t t = {0};
    dp_audit_entry_t first;
    verify_ctx_t v;
    size_t hi = 0;
    int eof = 0;
    fl_err_t err;

    if (report == NULL)
        report = &dummy;
    memset(report, 0, sizeof *report);
    report->epsilon_checked = opts->epsilon != NULL;
    if (key == NULL)
        return fl_fail(eb, FL_ERR_INVALID, "%s: no key to verify with", path);
    if ((err = dp_audit_reader_open(path, key, &r, eb)) != FL_OK)
        return err;
    if ((err = dp_audit_reader_next(r, &first, &eof, eb)) != FL_OK)
        goto out;
    if (eof) {
        err = fl_fail(eb, FL_ERR_PARSE, "%s: empty log", path);
        goto out;
    }
    report->entries = 1;
    snprintf(report->owner, sizeof report->owner, "%s",
             dp_audit_reader_owner(r));
    v.opts = opts;
    v.rep = report;
    v.owner = report->owner;
    for (size_t i = 0; i < n_witness; i++)
        if ((err = read_witness(&v, &witnesses[i], i, &heads, eb)) != FL_OK)
            goto out;
    if (heads.n > 1)
        qsort(heads.v, heads.n, sizeof heads.v[0], head_cmp);
    if ((err = match_heads(&v, path, &first, &heads, &hi, witnesses, eb)) !=
        FL_OK)
        goto out;
    err = main_rest(&v, r, &t, &heads, witnesses, eb);
    report->sites = t.used;
out:
    table_free(&t);
    free(heads.v);
    dp_audit_reader_close(&r);
    return err;
}
