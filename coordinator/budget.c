/* coordinator/budget.c: per-site spend mirror over privacy/'s accountant. */
#include "coordinator/budget.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
coord_budget_init(coord_budget_t *b, dp_accountant_kind_t kind)
{
    memset(b, 0, sizeof *b);
    b->accountant.kind = kind;
    b->accountant.orders = DP_ORDERS_DEFAULT;
    b->accountant.pld_interval = 0;
}

void
coord_budget_cleanup(coord_budget_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->sites[i].hist);
    free(b->sites);
    memset(b, 0, sizeof *b);
}

coord_site_t *
coord_budget_find(coord_budget_t *b, const char *id)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->sites[i].id, id) == 0)
            return &b->sites[i];
    return NULL;
}

fl_err_t
coord_budget_add_site(coord_budget_t *b, const char *id, uint64_t records,
                      double epsilon_max, double delta,
                      dp_accountant_kind_t accountant, coord_site_t **out,
                      fl_errbuf_t *eb)
{
    coord_site_t *s = coord_budget_find(b, id);

    *out = NULL;
    if (strlen(id) == 0 || strlen(id) > COORD_SITE_ID_MAX)
        return fl_fail(eb, FL_ERR_INVALID, "site id: bad length");
    if (records == 0 || !(epsilon_max > 0) || !isfinite(epsilon_max) ||
        !(delta > 0 && delta < 1) ||
        (accountant != DP_ACCOUNTANT_RDP && accountant != DP_ACCOUNTANT_PLD))
        return fl_fail(eb, FL_ERR_INVALID,
                       "%s: declared budget: records %llu, epsilon %g, "
                       "delta %g",
                       id, (unsigned long long) records, epsilon_max, delta);
    if (s != NULL) {
        if (s->records != records || s->epsilon_max != epsilon_max ||
            s->delta != delta || s->accountant != accountant)
            return fl_fail(eb, FL_ERR_STATE,
                           "%s: declared budget differs from the first "
                           "declaration in this job",
                           id);
        *out = s;
        return FL_OK;
    }
    if (b->n == COORD_MAX_SITES)
        return fl_fail(eb, FL_ERR_LIMIT, "more than %d sites", COORD_MAX_SITES);
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        coord_site_t *p = realloc(b->sites, cap * sizeof *p);

        if (p == NULL)
            return fl_fail(eb, FL_ERR_NOMEM, "budget: out of memory");
        b->sites = p;
        b->cap = cap;
    }
    s = &b->sites[b->n++];
    memset(s, 0, sizeof *s);
    (void) snprintf(s->id, sizeof s->id, "%s", id);
    s->records = records;
    s->epsilon_max = epsilon_max;
    s->delta = delta;
    s->accountant = accountant;
    *out = s;
    return FL_OK;
}

fl_err_t
coord_budget_push_history(coord_site_t *site, const dp_sgm_t *m,
                          fl_errbuf_t *eb)
{
    dp_sgm_t *last = site->n_hist ? &site->hist[site->n_hist - 1] : NULL;

    site->next_valid = 0; /* the history changes */
    if (m->steps == 0 || m->steps > DP_ACCOUNTANT_MAX_STEPS)
        return fl_fail(eb, FL_ERR_RANGE, "%s: %llu steps in one entry",
                       site->id, (unsigned long long) m->steps);
    if (last != NULL && last->sampling_rate == m->sampling_rate &&
        last->noise_multiplier == m->noise_multiplier) {
        /* Both are at most DP_ACCOUNTANT_MAX_STEPS: the sum cannot wrap. */
        if (last->steps + m->steps > DP_ACCOUNTANT_MAX_STEPS)
            return fl_fail(
                eb, FL_ERR_LIMIT, "%s: more than %llu steps of one mechanism",
                site->id, (unsigned long long) DP_ACCOUNTANT_MAX_STEPS);
        last->steps += m->steps;
        return FL_OK;
    }
    if (site->n_hist == COORD_MAX_HISTORY)
        return fl_fail(eb, FL_ERR_LIMIT, "%s: history longer than %d", site->id,
                       COORD_MAX_HISTORY);
    if (site->n_hist == site->cap_hist) {
        size_t cap = site->cap_hist ? site->cap_hist * 2 : 4;
        dp_sgm_t *p = realloc(site->hist, cap * sizeof *p);

        if (p == NULL)
            return fl_fail(eb, FL_ERR_NOMEM, "budget: out of memory");
        site->hist = p;
        site->cap_hist = cap;
    }
    site->hist[site->n_hist++] = *m;
    return FL_OK;
}

fl_err_t
coord_budget_epsilon_after(const coord_budget_t *b, coord_site_t *site,
                           const dp_sgm_t *next, double *epsilon,
                           fl_errbuf_t *eb)
{
    dp_accountant_opts_t opts = b->accountant;
    dp_sgm_t *hist;
    dp_epsilon_t e;
    size_t n = site->n_hist;
    fl_err_t err;

    if (next != NULL && site->next_valid &&
        memcmp(next, &site->next_mech, sizeof *next) == 0) {
        *epsilon = site->next_epsilon;
        return FL_OK;
    }
    hist = malloc((n + 1) * sizeof *hist);
    if (hist == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "budget: out of memory");
    if (n > 0)
        memcpy(hist, site->hist, n * sizeof *hist);
    if (next != NULL)
        hist[n++] = *next;
    if (n == 0) {
        *epsilon = 0;
        free(hist);
        return FL_OK;
    }
    opts.kind = site->accountant;
    err = dp_accountant_epsilon(&opts, hist, n, site->delta, &e, eb);
    free(hist);
    if (err == FL_OK)
        *epsilon = e.epsilon;
    if (err == FL_OK && next != NULL) {
        site->next_mech = *next;
        site->next_epsilon = e.epsilon;
        site->next_valid = 1;
    }
    return err;
}

fl_err_t
coord_budget_charge(coord_budget_t *b, coord_site_t *site,
                    const dp_sgm_t *round, fl_errbuf_t *eb)
{
    double eps = 0;
    fl_err_t err = coord_budget_epsilon_after(b, site, round, &eps, eb);

    if (err != FL_OK)
        return err;
    err = coord_budget_push_history(site, round, eb);
    if (err != FL_OK)
        return err;
    site->rounds_charged++;
    /* Never let the mirror go down, whatever the arithmetic says. */
    if (eps > site->epsilon)
        site->epsilon = eps;
    return FL_OK;
}
