/*
 * coordinator/budget.h: the coordinator's mirror of every node's privacy
 * spend in this job.
 *
 * The node's own ledger and accountant are authoritative; the coordinator
 * recomputes the same figures from what each node declared when it accepted
 * the job (dataset size N, epsilon budget, delta) and the job's mechanism
 * (q = batch_size / N, sigma, local_steps per round) with the accountant
 * the node declared (rdp or pld), so it can skip nodes
 * that cannot afford another round, end the job when none can, and check
 * every privacy receipt. Charges only ever add: a site's epsilon never goes
 * down.
 *
 * Ownership: coord_budget_t is caller-allocated (init/cleanup); sites and
 * their histories are owned by it. Not thread-safe.
 */
#ifndef COORD_BUDGET_H
#define COORD_BUDGET_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "privacy/accountant.h"
#include "privacy/sgm.h"

#define COORD_SITE_ID_MAX 64
#define COORD_MAX_SITES 100000
#define COORD_MAX_HISTORY 100000

typedef struct coord_site {
    char id[COORD_SITE_ID_MAX + 1];
    uint64_t records;   /* declared N (disclosed by the node) */
    double epsilon_max; /* declared budget */
    double delta;
    dp_accountant_kind_t accountant; /* the node's own, as it declared */
    dp_sgm_t *hist; /* mechanisms charged in this job, merged when equal */
    size_t n_hist;
    size_t cap_hist;
    uint32_t rounds_charged;
    double epsilon; /* mirror's epsilon after hist (0 when empty) */
    int exhausted;  /* cannot afford another round */
    /* Cache of coord_budget_epsilon_after(site, &next_mech): the round
     * scheduler, the receipt check and the charge ask the same question
     * until the history changes. Not part of the checkpoint. */
    int next_valid;
    dp_sgm_t next_mech;
    double next_epsilon;
} coord_site_t;

typedef struct coord_budget {
    dp_accountant_opts_t accountant;
    coord_site_t *sites;
    size_t n;
    size_t cap;
} coord_budget_t;

void coord_budget_init(coord_budget_t *b, dp_accountant_kind_t kind);
void coord_budget_cleanup(coord_budget_t *b);

/* The site with this id, or NULL. */
coord_site_t *coord_budget_find(coord_budget_t *b, const char *id);

/*
 * Adds a site (or returns the existing one unchanged when its declaration
 * is the same; FL_ERR_STATE when it differs: a node cannot re-declare a
 * smaller spend or a larger budget mid-job).
 */
fl_err_t coord_budget_add_site(coord_budget_t *b, const char *id,
                               uint64_t records, double epsilon_max,
                               double delta, dp_accountant_kind_t accountant,
                               coord_site_t **out, fl_errbuf_t *eb) FL_WUR;

/* The site's epsilon if it also ran `next` (NULL: as it stands). The
 * answer for `next` is cached in the site until its history changes. */
fl_err_t coord_budget_epsilon_after(const coord_budget_t *b, coord_site_t *site,
                                    const dp_sgm_t *next, double *epsilon,
                                    fl_errbuf_t *eb) FL_WUR;

/* Charges one round's mechanism to the site and updates its epsilon. */
fl_err_t coord_budget_charge(coord_budget_t *b, coord_site_t *site,
                             const dp_sgm_t *round, fl_errbuf_t *eb) FL_WUR;

/* Appends a history entry as loaded from a checkpoint (no recompute). */
fl_err_t coord_budget_push_history(coord_site_t *site, const dp_sgm_t *m,
                                   fl_errbuf_t *eb) FL_WUR;

#endif
