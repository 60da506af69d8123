/* coordinator/round.c: training and evaluation rounds under budgets. */
#include "coordinator/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/durable.h"
#include "common/log.h"
#include "coordinator/checkpoint.h"
#include "node/prng.h"
#include "privacy/accountant.h"

#define STARTUP_LOG_EVERY_MS 10000

static void
end_job(coord_t *c, const char *reason)
{
    fl_errbuf_t eb = {{0}};
    char hash[65];

    c->phase = COORD_PHASE_DONE;
    if (reason != c->end_reason)
        (void) snprintf(c->end_reason, sizeof c->end_reason, "%s", reason);
    if (fl_file_replace_atomic(c->model_path, c->model,
                               c->dim * sizeof *c->model, &eb) != FL_OK)
        fl_log_error("final model: %s", eb.msg);
    coord__sha256_hex(c->model, c->dim * sizeof *c->model, hash);
    fl_log_info("job %s ended after %u rounds: %s; final model %s (sha256 "
                "%s)",
                c->job.name, c->rounds_done, reason, c->model_path, hash);
    coord__print_summary(c);
}

static void
mark_exhausted(coord_t *c, coord_peer_t *p, coord_site_t *s, double next)
{
    if (s->exhausted)
        return;
    s->exhausted = 1;
    fl_log_info("%s: budget exhausted (epsilon %.4f spent; one more round "
                "would make it %.4f > %g)",
                p->id, s->epsilon, next, s->epsilon_max);
    coord__audit(c, DP_AUDIT_EV_BUDGET_EXHAUSTED, p->id,
                 json_pack("{s:s, s:f, s:f, s:f}", "site", p->id, "epsilon",
                           s->epsilon, "epsilon_next", next, "epsilon_max",
                           s->epsilon_max));
}

/* Whether the site can afford one more round; marks it exhausted if not. */
static int
affordable(coord_t *c, coord_peer_t *p)
{
    coord_site_t *s = coord__site(c, p);
    fl_errbuf_t eb = {{0}};
    dp_sgm_t m;
    double next;

    if (s == NULL || p->job != PEER_ACCEPTED || s->exhausted)
        return 0;
    if (!c->job.dp)
        return 1;
    m = coord__round_mechanism(c, s);
    if (coord_budget_epsilon_after(&c->budget, s, &m, &next, &eb) != FL_OK) {
        fl_log_warn("%s: accountant: %s", p->id, eb.msg);
        return 0;
    }
    if (next > s->epsilon_max) {
        mark_exhausted(c, p, s, next);
        return 0;
    }
    return 1;
}

static void
send_train_request(coord_t *c, coord_peer_t *p)
{
    pb_msg_t m;
    uint64_t seq = 0;

    memset(&m, 0, sizeof m);
    m.type = PB_TRAIN_REQUEST;
    m.u.train_request.round_id = c->round_id;
    memcpy(m.u.train_request.job_hash, c->job.hash, 32);
    m.u.train_request.model = c->model;
    m.u.train_request.model_dim = c->dim;
    m.u.train_request.local_steps = c->job.local_steps;
    m.u.train_request.deadline_ms = (uint64_t) c->job.round_deadline_s * 1000;
    if (c->audit != NULL)
        dp_audit_head(c->audit, &seq, m.u.train_request.audit_head.hash);
    m.u.train_request.audit_head.seq = seq;
    if (coord__send(c, p, &m, 0, &p->req_id) == FL_OK)
        p->asked = 1;
}

static void
send_eval_request(coord_t *c, coord_peer_t *p)
{
    pb_msg_t m;

    memset(&m, 0, sizeof m);
    m.type = PB_EVAL_REQUEST;
    m.u.eval_request.round_id = c->round_id;
    m.u.eval_request.model = c->model;
    m.u.eval_request.model_dim = c->dim;
    if (coord__send(c, p, &m, 0, &p->eval_req_id) == FL_OK)
        p->eval_asked = 1;
}

void
coord__resend_round(coord_t *c, coord_peer_t *p)
{
    if (c->phase == COORD_PHASE_TRAIN && p->asked && !p->answered)
        send_train_request(c, p);
    else if (c->phase == COORD_PHASE_EVAL && p->eval_asked && !p->eval_answered)
        send_eval_request(c, p);
}

/* Picks the round's participants among the eligible ones. */
static size_t
select_sites(coord_t *c, size_t *idx, size_t n)
{
    node_prng_t s;
    size_t k = (size_t) ceil(c->job.fraction * (double) n);

    if (k < c->job.min_nodes)
        k = c->job.min_nodes;
    if (k >= n)
        return n;
    node__prng_seed(&s, c->job.seed ^ (c->round_id * 0x2545f4914f6cdd1dULL));
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t) node__prng_below(&s, i + 1);
        size_t t = idx[i];

        idx[i] = idx[j];
        idx[j] = t;
    }
    return k;
}

static void
start_round(coord_t *c, size_t *idx, size_t n)
{
    json_t *who = json_array();
    size_t k = select_sites(c, idx, n);

    c->round_id = (uint64_t) c->rounds_done + 1;
    coord_agg_reset(c->agg);
    c->round_asked = c->round_answered = c->round_updates = 0;
    for (size_t i = 0; i < c->n_peers; i++) {
        c->peers[i].asked = c->peers[i].answered = 0;
        c->peers[i].declined = 0;
        c->peers[i].req_id = 0;
    }
    for (size_t i = 0; i < k; i++) {
        coord_peer_t *p = &c->peers[idx[i]];

        send_train_request(c, p);
        if (p->asked) {
            c->round_asked++;
            (void) json_array_append_new(who, json_string(p->id));
        }
    }
    coord__audit(c, DP_AUDIT_EV_ROUND_STARTED, c->cfg->name,
                 json_pack("{s:I, s:o, s:f, s:f, s:I, s:I}", "round",
                           (json_int_t) c->round_id, "participants", who,
                           "noise_multiplier", c->job.noise_multiplier,
                           "clip_norm", c->job.clip_norm, "local_steps",
                           (json_int_t) c->job.local_steps, "batch_size",
                           (json_int_t) c->job.batch_size));
    c->phase = COORD_PHASE_TRAIN;
    c->phase_start_ms = fl_clock_mono_ms();
    c->deadline_ms =
        c->phase_start_ms + (int64_t) c->job.round_deadline_s * 1000;
}

static void
start_eval(coord_t *c, int final)
{
    size_t asked = 0;

    c->final_eval = final;
    c->round_id = c->rounds_done;
    for (size_t i = 0; i < c->n_peers; i++) {
        coord_peer_t *p = &c->peers[i];

        p->eval_asked = p->eval_answered = 0;
        p->eval_req_id = 0;
        p->metrics.valid = 0;
        if (c->round_id >= 1 && p->live && p->job == PEER_ACCEPTED) {
            send_eval_request(c, p);
            asked += (size_t) p->eval_asked;
        }
    }
    c->phase = COORD_PHASE_EVAL;
    c->deadline_ms =
        fl_clock_mono_ms() + (int64_t) c->job.round_deadline_s * 1000;
    if (asked == 0)
        c->deadline_ms = 0;
}

/* WAIT: start the next round, the final evaluation, or end the job. */
static void
maybe_start_round(coord_t *c)
{
    size_t *idx = malloc((c->n_peers + 1) * sizeof *idx);
    size_t n = 0, accepted = 0, waiting = 0, declined = 0;
    int64_t now = fl_clock_mono_ms();
    int grace_over;

    if (idx == NULL)
        return;
    if (c->rounds_done >= c->job.rounds) {
        start_eval(c, 1);
        goto out;
    }
    for (size_t i = 0; i < c->n_peers; i++) {
        coord_peer_t *p = &c->peers[i];
        int ok = affordable(c, p);

        accepted += p->job == PEER_ACCEPTED;
        declined += p->job == PEER_DECLINED;
        if (ok && p->live)
            idx[n++] = i;
        else if (ok || (p->job != PEER_DECLINED && p->job != PEER_ACCEPTED))
            waiting++;
    }
    if (declined == c->n_peers) {
        end_job(c, "every hospital declined the job");
        goto out;
    }
    if (accepted > 0 && n == 0 && waiting == 0) {
        (void) snprintf(c->end_reason, sizeof c->end_reason,
                        "no hospital can afford another round");
        start_eval(c, 1);
        goto out;
    }
    if (accepted > 0 && n < c->job.min_nodes && waiting == 0) {
        (void) snprintf(c->end_reason, sizeof c->end_reason,
                        "fewer than min_nodes (%u) hospitals can take another "
                        "round",
                        c->job.min_nodes);
        start_eval(c, 1);
        goto out;
    }
    grace_over =
        now - c->phase_start_ms >= (int64_t) c->cfg->quorum_wait_s * 1000;
    if (n >= c->job.min_nodes && (waiting == 0 || grace_over)) {
        start_round(c, idx, n);
        goto out;
    }
    if (now - c->last_wait_log_ms >= STARTUP_LOG_EVERY_MS) {
        c->last_wait_log_ms = now;
        fl_log_info("round %u: %zu of %u required hospitals ready, %zu "
                    "more expected",
                    c->rounds_done + 1, n, c->job.min_nodes, waiting);
    }
out:
    free(idx);
}

static void
audit_spend(coord_t *c, const coord_peer_t *p, const coord_site_t *s,
            const dp_sgm_t *m)
{
    dp_audit_spend_t sp;
    fl_errbuf_t eb = {{0}};

    if (c->audit == NULL)
        return;
    memset(&sp, 0, sizeof sp);
    sp.site = p->id;
    sp.job_hash = c->job.hash_hex;
    sp.round = c->round_id;
    sp.sgm = *m;
    sp.clip = c->job.clip_norm;
    sp.delta = s->delta;
    sp.accountant = dp_accountant_kind_name(s->accountant);
    sp.pld_interval = 0;
    sp.epsilon = s->epsilon;
    sp.dataset_size = (int64_t) s->records;
    if (dp_audit_log_privacy_spent(c->audit, &sp, &eb) != FL_OK)
        fl_log_error("audit: %s", eb.msg);
}

/* Charges every site that may have trained: all asked but the decliners. */
static void
charge_round(coord_t *c)
{
    for (size_t i = 0; i < c->n_peers; i++) {
        coord_peer_t *p = &c->peers[i];
        coord_site_t *s = coord__site(c, p);
        fl_errbuf_t eb = {{0}};
        dp_sgm_t m;

        if (!p->asked || p->declined || s == NULL || !c->job.dp)
            continue;
        if (!p->answered)
            fl_log_warn("%s: no update by the deadline of round %llu "
                        "(counted as spent)",
                        p->id, (unsigned long long) c->round_id);
        m = coord__round_mechanism(c, s);
        if (coord_budget_charge(&c->budget, s, &m, &eb) != FL_OK) {
            fl_log_error("%s: charging the mirror: %s", p->id, eb.msg);
            continue;
        }
        audit_spend(c, p, s, &m);
    }
}

static void
apply_aggregate(coord_t *c)
{
    fl_errbuf_t eb = {{0}};
    char hash[65];

    if (coord_agg_count(c->agg) == 0) {
        fl_log_warn("round %llu: no update arrived; model unchanged",
                    (unsigned long long) c->round_id);
        return;
    }
    if (coord_agg_result(c->agg, c->delta, &eb) != FL_OK) {
        fl_log_error("round %llu: %s", (unsigned long long) c->round_id,
                     eb.msg);
        return;
    }
    coord_server_opt_step(c->opt, c->model, c->delta);
    coord__sha256_hex(c->model, c->dim * sizeof *c->model, hash);
    coord__audit(
        c, DP_AUDIT_EV_AGGREGATE_APPLIED, c->cfg->name,
        json_pack(
            "{s:I, s:I, s:s, s:s, s:s}", "round", (json_int_t) c->round_id,
            "updates", (json_int_t) coord_agg_count(c->agg), "aggregator",
            pb_aggregator_name(c->job.aggregator), "server_optimizer",
            pb_server_opt_name(c->job.server_optimizer), "model_sha256", hash));
}

static void
write_checkpoint(coord_t *c)
{
    fl_errbuf_t eb = {{0}};
    coord_ckpt_t ck;

    memset(&ck, 0, sizeof ck);
    memcpy(ck.job_hash, c->job.hash, 32);
    ck.rounds_done = c->rounds_done;
    ck.dim = c->dim;
    ck.model = c->model;
    ck.opt = c->opt;
    ck.budget = &c->budget;
    if (coord_ckpt_save(c->ckpt_path, &ck, &eb) != FL_OK) {
        fl_log_error("checkpoint: %s", eb.msg);
        return;
    }
    coord__audit(c, DP_AUDIT_EV_CHECKPOINT_WRITTEN, c->cfg->name,
                 json_pack("{s:I, s:s}", "round", (json_int_t) c->rounds_done,
                           "path", c->ckpt_path));
}

static void
close_round(coord_t *c)
{
    c->round_seconds =
        (double) (fl_clock_mono_ms() - c->phase_start_ms) / 1000.0;
    charge_round(c);
    apply_aggregate(c);
    c->rounds_done++;
    write_checkpoint(c);
    for (size_t i = 0; i < c->n_peers; i++)
        if (c->peers[i].asked && !c->peers[i].answered)
            coord__drop_kept(c, &c->peers[i], c->peers[i].req_id);
    if (c->job.eval_every > 0 && c->rounds_done % c->job.eval_every == 0 &&
        c->rounds_done < c->job.rounds) {
        start_eval(c, 0);
        return;
    }
    coord__print_round(c, 0);
    c->phase = COORD_PHASE_WAIT;
    c->phase_start_ms = fl_clock_mono_ms();
}

static void
close_eval(coord_t *c)
{
    for (size_t i = 0; i < c->n_peers; i++) {
        coord_peer_t *p = &c->peers[i];

        if (p->eval_asked && !p->eval_answered) {
            fl_log_warn("%s: no evaluation by the deadline", p->id);
            coord__drop_kept(c, p, p->eval_req_id);
        }
    }
    coord__print_round(c, 1);
    if (c->final_eval) {
        end_job(c, c->end_reason[0] ? c->end_reason : "all rounds done");
        return;
    }
    c->phase = COORD_PHASE_WAIT;
    c->phase_start_ms = fl_clock_mono_ms();
}

void
coord__tick(coord_t *c)
{
    int64_t now = fl_clock_mono_ms();
    int all = 1;

    switch (c->phase) {
    case COORD_PHASE_WAIT:
        maybe_start_round(c);
        break;
    case COORD_PHASE_TRAIN:
        all = c->round_answered >= c->round_asked;
        if (all || now >= c->deadline_ms)
            close_round(c);
        break;
    case COORD_PHASE_EVAL:
        for (size_t i = 0; i < c->n_peers; i++)
            if (c->peers[i].eval_asked && !c->peers[i].eval_answered)
                all = 0;
        if (all || now >= c->deadline_ms)
            close_eval(c);
        break;
    case COORD_PHASE_DONE:
        break;
    }
}

/* The site answered this round's request with something unusable: the
 * round need not wait for it (it stays charged: it may have trained). */
void
coord__answered_badly(coord_t *c, coord_peer_t *p)
{
    if (c->phase != COORD_PHASE_TRAIN || !p->asked || p->answered)
        return;
    p->answered = 1;
    c->round_answered++;
}

static void
reject_update(coord_t *c, coord_peer_t *p, uint64_t round, const char *reason,
              const char *hash)
{
    fl_log_warn("%s: update for round %llu rejected: %s", p->id,
                (unsigned long long) round, reason);
    if (round == c->round_id)
        coord__answered_badly(c, p);
    coord__audit(c, DP_AUDIT_EV_UPDATE_REJECTED, p->id,
                 json_pack("{s:s, s:I, s:s, s:s}", "site", p->id, "round",
                           (json_int_t) round, "reason", reason,
                           "update_sha256", hash));
}

/* The receipt must name this job's mechanism; its epsilon is compared
 * with the mirror's (the node's accountant is authoritative). */
static int
check_receipt(coord_t *c, coord_peer_t *p, const pb_receipt_t *r, char *why,
              size_t whylen)
{
    coord_site_t *s = coord__site(c, p);
    dp_sgm_t m = coord__round_mechanism(c, s);
    fl_errbuf_t eb = {{0}};
    double mirror;

    if (!c->job.dp)
        return 1;
    if (fabs(r->mechanism.sampling_rate - m.sampling_rate) >
            1e-9 * m.sampling_rate ||
        fabs(r->mechanism.noise_multiplier - m.noise_multiplier) >
            1e-9 * m.noise_multiplier ||
        r->mechanism.steps != m.steps ||
        fabs(r->mechanism.clip_norm - c->job.clip_norm) >
            1e-9 * c->job.clip_norm) {
        (void) snprintf(
            why, whylen,
            "receipt mechanism (q %g, sigma %g, steps %u, clip "
            "%g) differs from the job's (q %g, sigma %g, steps "
            "%llu, clip %g)",
            r->mechanism.sampling_rate, r->mechanism.noise_multiplier,
            r->mechanism.steps, r->mechanism.clip_norm, m.sampling_rate,
            m.noise_multiplier, (unsigned long long) m.steps, c->job.clip_norm);
        return 0;
    }
    if (coord_budget_epsilon_after(&c->budget, s, &m, &mirror, &eb) != FL_OK)
        return 1;
    if (r->epsilon < mirror * (1 - 1e-6) - 1e-9)
        fl_log_warn("%s: receipt epsilon %.6f below the mirror's %.6f "
                    "(ledger seq %llu): disagreement",
                    p->id, r->epsilon, mirror,
                    (unsigned long long) r->ledger_seq);
    else if (r->epsilon > mirror * (1 + 1e-6) + 1e-9)
        fl_log_info("%s: receipt epsilon %.6f above this job's mirror %.6f "
                    "(spends outside this job, or another accountant)",
                    p->id, r->epsilon, mirror);
    return 1;
}

void
coord__on_train_result(coord_t *c, coord_peer_t *p, pb_msg_t *msg)
{
    pb_train_result_t *r = &msg->u.train_result;
    coord_site_t *s = coord__site(c, p);
    fl_errbuf_t eb = {{0}};
    char hash[65], why[384];
    double weight;

    coord__sha256_hex(r->update, r->update_dim * sizeof(float), hash);
    if (c->phase != COORD_PHASE_TRAIN || r->round_id != c->round_id) {
        reject_update(c, p, r->round_id, "late: its round is closed", hash);
        return;
    }
    if (!p->asked || s == NULL) {
        reject_update(c, p, r->round_id, "not asked in this round", hash);
        return;
    }
    if (p->answered)
        return;
    if (!check_receipt(c, p, &r->receipt, why, sizeof why)) {
        reject_update(c, p, r->round_id, why, hash);
        return;
    }
    weight = c->job.weighting == PB_WEIGHT_RECORDS ? (double) s->records : 1;
    if (coord_agg_add(c->agg, r->update, weight, &eb) != FL_OK) {
        reject_update(c, p, r->round_id, eb.msg, hash);
        return;
    }
    p->answered = 1;
    p->updates_accepted++;
    c->round_answered++;
    c->round_updates++;
    coord__audit(
        c, DP_AUDIT_EV_UPDATE_RECEIVED, p->id,
        json_pack("{s:s, s:I, s:s, s:f, s:I, s:s}", "site", p->id, "round",
                  (json_int_t) r->round_id, "update_sha256", hash,
                  "receipt_epsilon", r->receipt.epsilon, "ledger_seq",
                  (json_int_t) r->receipt.ledger_seq, "generator",
                  r->receipt.generator == PB_GENERATOR_SECURE ? "secure"
                                                              : "seeded"));
}

void
coord__on_decline(coord_t *c, coord_peer_t *p, const pb_msg_t *msg)
{
    const pb_decline_t *d = &msg->u.decline;
    coord_site_t *s = coord__site(c, p);

    fl_log_info("%s: declined round %llu: %s", p->id,
                (unsigned long long) d->round_id, d->text);
    coord__audit(c, "round_declined", p->id,
                 json_pack("{s:s, s:I, s:i, s:s}", "site", p->id, "round",
                           (json_int_t) d->round_id, "reason", (int) d->reason,
                           "text", d->text));
    if (d->reason == PB_DECLINE_BUDGET_EXHAUSTED && s != NULL)
        mark_exhausted(c, p, s, s->epsilon);
    if (c->phase != COORD_PHASE_TRAIN || d->round_id != c->round_id ||
        !p->asked || p->answered)
        return;
    p->answered = 1;
    p->declined = 1;
    c->round_answered++;
}

void
coord__on_eval_result(coord_t *c, coord_peer_t *p, const pb_msg_t *msg)
{
    const pb_eval_result_t *r = &msg->u.eval_result;

    if (c->phase != COORD_PHASE_EVAL || r->round_id != c->round_id ||
        !p->eval_asked || p->eval_answered)
        return;
    p->eval_answered = 1;
    p->metrics.valid = 1;
    p->metrics.n = r->n_examples;
    p->metrics.loss = r->loss;
    p->metrics.accuracy = r->accuracy;
    p->metrics.has_auroc = r->has_auroc;
    p->metrics.auroc = r->auroc;
}
