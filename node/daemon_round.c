/* node/daemon_round.c: training rounds under the budget, and evaluation. */
#include "node/daemon_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "node/eval.h"

void
node__decline(node_daemon_t *d, uint64_t in_reply_to, uint64_t round,
              pb_decline_reason_t reason, const char *text)
{
    pb_msg_t m;

    fl_log_info("declining round %llu: %s", (unsigned long long) round, text);
    memset(&m, 0, sizeof m);
    m.type = PB_DECLINE;
    m.u.decline.round_id = round;
    m.u.decline.reason = reason;
    (void) snprintf(m.u.decline.text, sizeof m.u.decline.text, "%s", text);
    (void) node__reply(d, &m, in_reply_to);
}

static void
send_result(node_daemon_t *d, uint64_t in_reply_to, uint64_t round)
{
    pb_msg_t m;

    memset(&m, 0, sizeof m);
    m.type = PB_TRAIN_RESULT;
    m.u.train_result.round_id = round;
    m.u.train_result.update = d->cached_update;
    m.u.train_result.update_dim = d->dim;
    m.u.train_result.local_steps_done = d->job.local_steps;
    m.u.train_result.receipt = d->cached_receipt;
    (void) node__reply(d, &m, in_reply_to);
}

/* The ledger already holds a reservation for this job's round. */
static int
round_reserved(const node_daemon_t *d, uint64_t round)
{
    for (size_t i = 0; i < dp_ledger_count(d->ledger); i++) {
        const dp_ledger_entry_t *e = dp_ledger_get(d->ledger, i);

        if (e->round == round && strcmp(e->job_hash, d->job.hash_hex) == 0)
            return 1;
    }
    return 0;
}

static void
witness_head(node_daemon_t *d, const pb_train_request_t *r)
{
    fl_errbuf_t eb = {{0}};

    if (d->audit != NULL &&
        dp_audit_log_coordinator_head(d->audit, d->cfg->coordinator_id,
                                      r->audit_head.seq, r->audit_head.hash,
                                      r->round_id, &eb) != FL_OK)
        fl_log_error("audit coordinator_head: %s", eb.msg);
}

/* Write-ahead: the ledger reservation and the audit entry, both fsynced,
 * before any training on the data. */
static fl_err_t
reserve(node_daemon_t *d, uint64_t round, const dp_sgm_t *m, double eps,
        uint64_t *seq, fl_errbuf_t *eb)
{
    const char *acct = dp_accountant_kind_name(
        (dp_accountant_kind_t) d->cfg->policy.accountant);
    dp_ledger_entry_t e;
    dp_audit_spend_t sp;
    fl_err_t err;

    memset(&e, 0, sizeof e);
    (void) snprintf(e.job_hash, sizeof e.job_hash, "%s", d->job.hash_hex);
    e.round = round;
    e.sgm = *m;
    e.clip = d->job.clip_norm;
    e.delta = d->cfg->policy.delta;
    (void) snprintf(e.accountant, sizeof e.accountant, "%s", acct);
    e.epsilon = eps;
    err = dp_ledger_reserve(d->ledger, &e, seq, eb);
    if (err != FL_OK || d->audit == NULL)
        return err;
    memset(&sp, 0, sizeof sp);
    sp.site = d->cfg->name;
    sp.job_hash = d->job.hash_hex;
    sp.round = round;
    sp.sgm = *m;
    sp.clip = d->job.clip_norm;
    sp.delta = d->cfg->policy.delta;
    sp.accountant = acct;
    sp.epsilon = eps;
    sp.dataset_size = (int64_t) node_dataset_rows(d->train);
    return dp_audit_log_privacy_spent(d->audit, &sp, eb);
}

static fl_err_t
train(node_daemon_t *d, const pb_train_request_t *r, fl_errbuf_t *eb)
{
    node_train_stats_t st;
    fl_err_t err;

    memcpy(d->params, r->model, d->dim * sizeof *d->params);
    node_trainer_reset(d->trainer);
    err = node_trainer_run_steps(d->trainer, d->params, d->train, d->rng,
                                 r->local_steps, &st, eb);
    if (err != FL_OK)
        return err;
    for (size_t i = 0; i < d->dim; i++)
        d->cached_update[i] = d->params[i] - r->model[i];
    return FL_OK;
}

void
node__send_held(node_daemon_t *d)
{
    d->held = 0;
    send_result(d, d->held_reply_to, d->held_round);
}

/* Simulations: a byzantine node replaces its update. */
static void
corrupt_update(node_daemon_t *d)
{
    for (size_t i = 0; i < d->dim; i++) {
        if (d->faults.byzantine == NODE_BYZ_SCALED)
            d->cached_update[i] *= -10.0f;
        else if (d->faults.byzantine == NODE_BYZ_RANDOM)
            d->cached_update[i] = (float) dp_rng_gaussian(d->fault_rng);
    }
}

static void
fill_receipt(node_daemon_t *d, const dp_sgm_t *m, double eps, uint64_t seq)
{
    pb_receipt_t *rc = &d->cached_receipt;

    memset(rc, 0, sizeof *rc);
    rc->epsilon = d->job.dp ? eps : INFINITY;
    rc->delta = d->cfg->policy.delta;
    rc->accountant = node__wire_accountant(d);
    rc->mechanism.sampling_rate = m->sampling_rate;
    rc->mechanism.noise_multiplier = d->job.dp ? m->noise_multiplier : 0;
    rc->mechanism.steps = (uint32_t) m->steps;
    rc->mechanism.clip_norm = d->job.dp ? d->job.clip_norm : 1;
    rc->ledger_seq = seq;
    rc->generator = dp_rng_kind(d->rng) == DP_RNG_SECURE ? PB_GENERATOR_SECURE
                                                         : PB_GENERATOR_SEEDED;
}

/* Budget check, write-ahead, training, the reply, the commit. */
static void
run_round(node_daemon_t *d, const pb_msg_t *msg)
{
    const pb_train_request_t *r = &msg->u.train_request;
    fl_errbuf_t eb = {{0}};
    dp_sgm_t m = node__round_mechanism(d);
    uint64_t seq = 0;
    double eps = 0;

    if (d->job.dp && node__epsilon(d, &m, &eps, &eb) != FL_OK) {
        node__decline(d, msg->msg_id, r->round_id, PB_DECLINE_ERROR, eb.msg);
        return;
    }
    if (d->job.dp && eps > d->cfg->policy.epsilon_max) {
        (void) snprintf(eb.msg, sizeof eb.msg,
                        "budget: this round would bring epsilon to %.4f, over "
                        "%g",
                        eps, d->cfg->policy.epsilon_max);
        node__decline(d, msg->msg_id, r->round_id, PB_DECLINE_BUDGET_EXHAUSTED,
                      eb.msg);
        return;
    }
    if (d->job.dp && reserve(d, r->round_id, &m, eps, &seq, &eb) != FL_OK) {
        /* Fail closed: without a durable reservation nothing may train,
         * and a node that cannot write its records must stop. */
        node__decline(d, msg->msg_id, r->round_id, PB_DECLINE_ERROR,
                      "could not write the budget reservation");
        d->fatal = 1;
        (void) snprintf(d->fatal_msg, sizeof d->fatal_msg,
                        "budget reservation: %s", eb.msg);
        return;
    }
    if (train(d, r, &eb) != FL_OK) {
        fl_log_error("round %llu: training: %s",
                     (unsigned long long) r->round_id, eb.msg);
        node__decline(d, msg->msg_id, r->round_id, PB_DECLINE_ERROR,
                      "training failed; the reservation counts as spent");
        return;
    }
    fill_receipt(d, &m, eps, seq);
    d->cached_round = r->round_id;
    if (d->faults.byzantine != NODE_HONEST)
        corrupt_update(d);
    if (d->fault_rng != NULL &&
        dp_rng_uniform(d->fault_rng) < d->faults.straggle_rate) {
        /* Straggler: the answer leaves just after the deadline. */
        d->held = 1;
        d->held_reply_to = msg->msg_id;
        d->held_round = r->round_id;
        d->held_due_ms = fl_clock_mono_ms() + (int64_t) r->deadline_ms + 50;
    } else {
        send_result(d, msg->msg_id, r->round_id);
    }
    d->rounds_trained++;
    if (d->job.dp && dp_ledger_commit(d->ledger, seq, &eb) != FL_OK)
        fl_log_error("commit: %s (the reservation still counts)", eb.msg);
    node__audit(d, "commit",
                json_pack("{s:I, s:I, s:s}", "ledger_seq", (json_int_t) seq,
                          "round", (json_int_t) r->round_id, "job_hash",
                          d->job.hash_hex));
    fl_log_info("round %llu: %u steps, epsilon %.4f of %g",
                (unsigned long long) r->round_id, r->local_steps, eps,
                d->cfg->policy.epsilon_max);
}

void
node__on_train_request(node_daemon_t *d, const pb_msg_t *msg)
{
    const pb_train_request_t *r = &msg->u.train_request;

    if (!d->have_job || memcmp(r->job_hash, d->job.hash, 32) != 0) {
        node__decline(d, msg->msg_id, r->round_id, PB_DECLINE_ERROR,
                      "no accepted job with this hash");
        return;
    }
    witness_head(d, r);
    if (r->round_id == d->cached_round) {
        /* Asked again (a reconnect or a coordinator restart): the same
         * update, the same receipt, no new spend. */
        send_result(d, msg->msg_id, r->round_id);
        return;
    }
    if (r->local_steps != d->job.local_steps) {
        node__decline(d, msg->msg_id, r->round_id, PB_DECLINE_POLICY,
                      "local_steps differs from the approved job");
        return;
    }
    if (d->fault_rng != NULL &&
        dp_rng_uniform(d->fault_rng) < d->faults.drop_rate) {
        fl_log_debug("round %llu: dropped (simulated fault)",
                     (unsigned long long) r->round_id);
        return;
    }
    if (d->job.dp && round_reserved(d, r->round_id)) {
        node__decline(d, msg->msg_id, r->round_id, PB_DECLINE_ERROR,
                      "this round was interrupted by a restart; its "
                      "reservation counts as spent");
        return;
    }
    run_round(d, msg);
}

static void
fill_subgroups(node_daemon_t *d, const node_eval_report_t *rep,
               pb_eval_result_t *r)
{
    size_t n = 0;

    r->subgroups =
        calloc(rep->n_groups ? rep->n_groups : 1, sizeof *r->subgroups);
    if (r->subgroups == NULL)
        return;
    for (size_t g = 0; g < rep->n_groups && n < PB_MAX_SUBGROUPS; g++) {
        const node_metrics_t *m = &rep->groups[g];
        pb_subgroup_t *s = &r->subgroups[n];

        if (m->n == 0 || !isfinite(m->loss))
            continue;
        (void) snprintf(s->name, sizeof s->name, "%s",
                        node_dataset_group_name(d->heldout, g));
        s->n_examples = m->n;
        s->loss = m->loss;
        s->accuracy = m->accuracy;
        s->has_auroc = isfinite(m->auroc);
        s->auroc = s->has_auroc ? m->auroc : 0;
        n++;
    }
    r->n_subgroups = n;
}

void
node__on_eval_request(node_daemon_t *d, const pb_msg_t *msg)
{
    const pb_eval_request_t *q = &msg->u.eval_request;
    node_eval_report_t rep;
    fl_errbuf_t eb = {{0}};
    pb_msg_t m;
    pb_eval_result_t *r = &m.u.eval_result;

    if (!d->have_job) {
        fl_log_warn("evaluation request without an accepted job");
        return;
    }
    /* Held-out metrics are not differentially private: answer only the
     * evaluations the job schedules (one per round id, at most rounds /
     * eval_every + 2), so a coordinator cannot probe the data at will. */
    if (q->round_id != d->last_eval_round &&
        d->evals >=
            (d->job.eval_every ? d->job.rounds / d->job.eval_every : 0) + 2) {
        fl_log_warn("evaluation after round %llu refused: the job's %u "
                    "evaluations were answered",
                    (unsigned long long) q->round_id, d->evals);
        return;
    }
    if (node_dataset_rows(d->heldout) == 0) {
        /* Nothing held out: an empty evaluation, so the round need not
         * wait for this hospital. */
        memset(&m, 0, sizeof m);
        m.type = PB_EVAL_RESULT;
        m.u.eval_result.round_id = q->round_id;
        m.u.eval_result.n_classes = d->job.classes;
        m.u.eval_result.confusion =
            calloc((size_t) d->job.classes * d->job.classes, sizeof(uint64_t));
        if (m.u.eval_result.confusion != NULL)
            (void) node__reply(d, &m, msg->msg_id);
        free(m.u.eval_result.confusion);
        return;
    }
    if (node_eval_run(d->model, q->model, d->heldout, &rep, &eb) != FL_OK) {
        fl_log_warn("evaluation: %s", eb.msg);
        return;
    }
    if (q->round_id != d->last_eval_round)
        d->evals++;
    d->last_eval_round = q->round_id;
    memset(&m, 0, sizeof m);
    m.type = PB_EVAL_RESULT;
    r->round_id = q->round_id;
    r->n_examples = rep.overall.n;
    r->loss = rep.overall.loss;
    r->accuracy = rep.overall.accuracy;
    r->has_auroc = isfinite(rep.overall.auroc);
    r->auroc = r->has_auroc ? rep.overall.auroc : 0;
    r->n_classes = rep.overall.n_classes;
    r->confusion = rep.overall.confusion;
    fill_subgroups(d, &rep, r);
    (void) node__reply(d, &m, msg->msg_id);
    free(r->subgroups);
    fl_log_info("evaluation after round %llu: accuracy %.4f on %llu "
                "held-out records",
                (unsigned long long) q->round_id, r->accuracy,
                (unsigned long long) r->n_examples);
    node_eval_report_cleanup(&rep);
}
