/*
 * node/policy.h: which jobs this hospital takes part in.
 *
 * A hospital approves a job either by its hash (the SHA-256 of the exact
 * job file its data-protection officer read) or by constraints every job
 * must meet: noise multiplier at least, clip norm at most, delta at most,
 * rounds at most. A job approved by hash must still be a DP job unless the
 * policy explicitly allows non-private training. Whether the budget allows
 * a round is the ledger's question, not the policy's.
 *
 * node.ini:
 *   [budget]         epsilon_max, delta, accountant (rdp|pld)
 *   [policy]         min_noise_multiplier, max_clip_norm, max_delta,
 *                    max_rounds, allow_non_dp
 *   [approved_jobs]  <label> = <64 hex digits of a job hash>, one per line
 * With neither constraints nor approved hashes every job is declined.
 */
#ifndef NODE_POLICY_H
#define NODE_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/err.h"
#include "proto/job.h"

#define NODE_POLICY_MAX_APPROVED 1024

typedef struct node_policy {
    double epsilon_max; /* the hospital's budget for this dataset */
    double delta;
    int accountant; /* dp_accountant_kind_t */
    uint8_t approved[NODE_POLICY_MAX_APPROVED][32];
    size_t n_approved;
    int has_constraints;
    double min_noise_multiplier;
    double max_clip_norm;
    double max_delta;
    uint32_t max_rounds;
    int allow_non_dp;
} node_policy_t;

/* Reads [budget], [policy] and [approved_jobs] of a node config. */
fl_err_t node_policy_load(fl_config_t *cfg, node_policy_t *p,
                          fl_errbuf_t *eb) FL_WUR;

/*
 * FL_OK when the job may run here; FL_ERR_POLICY with the reason in eb
 * otherwise ("noise_multiplier 0.5 below this hospital's minimum 0.8").
 * The job's noise multiplier must be final (calibrated).
 */
fl_err_t node_policy_check(const node_policy_t *p, const pb_job_t *job,
                           fl_errbuf_t *eb) FL_WUR;

#endif
