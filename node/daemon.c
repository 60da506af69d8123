/* node/daemon.c: the node's lifecycle, the job offer, message dispatch. */
#include "node/daemon_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/clock.h"
#include "common/log.h"
#include "node/job_model.h"

fl_err_t
node__reply(node_daemon_t *d, pb_msg_t *msg, uint64_t in_reply_to)
{
    fl_errbuf_t eb = {{0}};
    uint8_t *buf = NULL;
    size_t len = 0;
    fl_err_t err;

    msg->msg_id = d->next_msg_id++;
    msg->in_reply_to = in_reply_to;
    err = pb_envelope_encode(msg, &buf, &len, &eb);
    /* The channel takes the encoded buffer: no copy of the update. */
    if (err == FL_OK)
        err = chan_client_send_owned(d->cli, buf, len,
                                     in_reply_to ? 0 : CHAN_SEND_NO_REPLY, &eb);
    if (err != FL_OK)
        fl_log_warn("send %s: %s", pb_type_name(msg->type),
                    fl_errbuf_str(&eb, err));
    return err;
}

void
node__audit(node_daemon_t *d, const char *type, json_t *body)
{
    fl_errbuf_t eb = {{0}};

    if (body == NULL) {
        fl_log_error("audit %s: could not build the entry", type);
        return;
    }
    if (d->audit != NULL &&
        dp_audit_append(d->audit, type, d->cfg->name, body, &eb) != FL_OK)
        fl_log_error("audit %s: %s", type, eb.msg);
    json_decref(body);
}

/* The accountant as the wire names it (NONE for a job without DP). */
pb_accountant_t
node__wire_accountant(const node_daemon_t *d)
{
    if (!d->job.dp)
        return PB_ACCOUNTANT_NONE;
    return d->cfg->policy.accountant == DP_ACCOUNTANT_PLD ? PB_ACCOUNTANT_PLD
                                                          : PB_ACCOUNTANT_RDP;
}

dp_sgm_t
node__round_mechanism(const node_daemon_t *d)
{
    dp_sgm_t m;
    double q =
        (double) d->job.batch_size / (double) node_dataset_rows(d->train);

    m.sampling_rate = q > 1 ? 1 : q;
    m.noise_multiplier = d->job.noise_multiplier;
    m.steps = d->job.local_steps;
    return m;
}

/* This hospital's epsilon over everything its ledger holds, plus next. */
fl_err_t
node__epsilon(const node_daemon_t *d, const dp_sgm_t *next, double *epsilon,
              fl_errbuf_t *eb)
{
    dp_audit_accounting_t acct = {
        dp_accountant_kind_name(
            (dp_accountant_kind_t) d->cfg->policy.accountant),
        0, "default", d->cfg->policy.delta};
    dp_sgm_t *hist = NULL, *all;
    size_t n = 0;
    fl_err_t err = dp_ledger_history(d->ledger, NULL, &hist, &n, eb);

    if (err != FL_OK)
        return err;
    all = realloc(hist, (n + 1) * sizeof *all);
    if (all == NULL) {
        free(hist);
        return fl_fail(eb, FL_ERR_NOMEM, "history: out of memory");
    }
    if (next != NULL)
        all[n++] = *next;
    if (n == 0)
        *epsilon = 0;
    else
        err = dp_audit_epsilon_accountant(NULL, &acct, all, n, epsilon, eb);
    free(all);
    return err;
}

static void
drop_job(node_daemon_t *d)
{
    node_trainer_destroy(&d->trainer);
    node_model_destroy(&d->model);
    node_dataset_destroy(&d->train);
    node_dataset_destroy(&d->heldout);
    free(d->params);
    free(d->cached_update);
    d->params = d->cached_update = NULL;
    d->cached_round = 0;
    d->evals = 0;
    d->last_eval_round = 0;
    if (d->have_job)
        pb_job_cleanup(&d->job);
    d->have_job = 0;
}

/*
 * Training and held-out records. A hospital too small for both parts
 * (fewer than 1 / holdout_fraction records) trains on all of them and
 * reports empty evaluations: its records still count, and nothing about
 * them is evaluated.
 */
static fl_err_t
split_records(node_daemon_t *d, const node_dataset_t *all, const pb_job_t *job,
              fl_errbuf_t *eb)
{
    size_t rows = node_dataset_rows(all);
    size_t held = (size_t) floor((double) rows * job->holdout_fraction);
    size_t *idx;
    fl_err_t err;

    if (held > 0 && held < rows)
        return node_dataset_split(all, job->seed, job->holdout_fraction,
                                  &d->train, &d->heldout, eb);
    if (rows == 0)
        return fl_fail(eb, FL_ERR_INVALID, "no records");
    idx = malloc(rows * sizeof *idx);
    if (idx == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "records: out of memory");
    for (size_t i = 0; i < rows; i++)
        idx[i] = i;
    err = node_dataset_subset(all, idx, rows, &d->train, eb);
    if (err == FL_OK)
        err = node_dataset_subset(all, idx, 0, &d->heldout, eb);
    free(idx);
    if (err == FL_OK)
        fl_log_info("%zu records: too few to hold some out; all train, "
                    "evaluations will be empty",
                    rows);
    return err;
}

static fl_err_t
load_data(node_daemon_t *d, const pb_job_t *job, fl_errbuf_t *eb)
{
    node_dataset_t *all = NULL;
    fl_err_t err;

    if (d->dataset != NULL) {
        if (node_dataset_n_features(d->dataset) != job->n_features)
            return fl_fail(
                eb, FL_ERR_INVALID, "records have %zu features, the job %zu",
                node_dataset_n_features(d->dataset), job->n_features);
        return split_records(d, d->dataset, job, eb);
    }
    err = node_job_load_csv(job, d->cfg->data, &d->cfg->limits, &all, eb);
    if (err == FL_OK)
        err = split_records(d, all, job, eb);
    node_dataset_destroy(&all);
    return err;
}

static fl_err_t
set_up_training(node_daemon_t *d, fl_errbuf_t *eb)
{
    node_train_spec_t s;
    fl_err_t err = node_job_model(&d->job, &d->model, eb);

    if (err != FL_OK)
        return err;
    memset(&s, 0, sizeof s);
    s.optimizer =
        d->job.optimizer == PB_OPT_ADAM ? NODE_OPT_ADAM : NODE_OPT_SGD;
    s.lr = d->job.learning_rate;
    s.momentum = d->job.momentum;
    s.clip = d->job.dp ? d->job.clip_norm : INFINITY;
    s.noise_multiplier = d->job.dp ? d->job.noise_multiplier : 0;
    s.expected_batch = (double) d->job.batch_size;
    if (s.expected_batch > (double) node_dataset_rows(d->train))
        s.expected_batch = (double) node_dataset_rows(d->train);
    s.nonprivate = !d->job.dp;
    err = node_trainer_new(d->model, &s, node_dataset_rows(d->train),
                           &d->trainer, eb);
    if (err != FL_OK)
        return err;
    d->dim = node_model_n_params(d->model);
    d->params = malloc(d->dim * sizeof *d->params);
    d->cached_update = malloc(d->dim * sizeof *d->cached_update);
    if (d->params == NULL || d->cached_update == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "model: out of memory");
    d->lim.model_dim = d->dim;
    d->lim.n_classes = d->job.classes;
    return FL_OK;
}

static fl_err_t
calibrate(pb_job_t *job, fl_errbuf_t *eb)
{
    dp_accountant_opts_t opts = {(dp_accountant_kind_t) job->accountant,
                                 DP_ORDERS_DEFAULT, 0};
    double q, sigma = 0, eps = 0;
    uint64_t steps;
    fl_err_t err;

    if (!job->dp || job->target_epsilon <= 0)
        return FL_OK;
    pb_job_calibration_inputs(job, &q, &steps);
    err = dp_accountant_calibrate(&opts, q, steps, job->delta,
                                  job->target_epsilon, &sigma, &eps, eb);
    if (err == FL_OK)
        job->noise_multiplier = sigma;
    return err;
}

/* Judges the job; FL_OK to accept, else the reason and code to decline. */
static fl_err_t
judge_job(node_daemon_t *d, pb_decline_reason_t *why, fl_errbuf_t *eb)
{
    dp_sgm_t m;
    double eps = 0;
    fl_err_t err;

    *why = PB_DECLINE_ERROR;
    if ((err = calibrate(&d->job, eb)) != FL_OK)
        return err;
    if ((err = node_policy_check(&d->cfg->policy, &d->job, eb)) != FL_OK) {
        *why = PB_DECLINE_POLICY;
        return err;
    }
    if ((err = load_data(d, &d->job, eb)) != FL_OK) {
        /* The loader's message may quote a patient's field: it stays in
         * this hospital's log and never goes to the coordinator. */
        fl_log_error("job %s: %s", d->job.name, eb->msg);
        return fl_fail(eb, err,
                       "this hospital's records do not fit the job (details "
                       "in the node's log)");
    }
    if ((err = set_up_training(d, eb)) != FL_OK)
        return err;
    if (!d->job.dp)
        return FL_OK;
    m = node__round_mechanism(d);
    if ((err = node__epsilon(d, &m, &eps, eb)) != FL_OK)
        return err;
    if (eps > d->cfg->policy.epsilon_max) {
        *why = PB_DECLINE_BUDGET_EXHAUSTED;
        return fl_fail(eb, FL_ERR_BUDGET,
                       "one round would bring epsilon to %.4f, over this "
                       "hospital's budget %g",
                       eps, d->cfg->policy.epsilon_max);
    }
    return FL_OK;
}

static void
answer_job(node_daemon_t *d, uint64_t offer_id, int accept,
           pb_decline_reason_t why, const char *text, const uint8_t hash[32])
{
    pb_msg_t m;
    pb_job_answer_t *a = &m.u.job_answer;
    char hex[65];

    memset(&m, 0, sizeof m);
    m.type = PB_JOB_ANSWER;
    memcpy(a->job_hash, hash, 32);
    a->accept = accept;
    pb_hex32(hash, hex);
    if (accept) {
        a->reason = PB_DECLINE_NONE;
        a->dataset_size = node_dataset_rows(d->train);
        a->epsilon_budget = d->job.dp ? d->cfg->policy.epsilon_max : INFINITY;
        a->delta = d->cfg->policy.delta;
        a->accountant = node__wire_accountant(d);
    } else {
        a->reason = why;
    }
    (void) snprintf(a->text, sizeof a->text, "%s", text);
    (void) node__reply(d, &m, offer_id);
    node__audit(d, accept ? DP_AUDIT_EV_JOB_ACCEPTED : DP_AUDIT_EV_JOB_DECLINED,
                json_pack("{s:s, s:s, s:I}", "job_hash", hex, "reason", text,
                          "dataset_size_disclosed",
                          (json_int_t) (accept ? a->dataset_size : 0)));
}

static void
on_job_offer(node_daemon_t *d, const pb_msg_t *msg)
{
    const pb_job_offer_t *o = &msg->u.job_offer;
    pb_decline_reason_t why = PB_DECLINE_ERROR;
    fl_errbuf_t eb = {{0}};
    fl_err_t err;

    if (d->have_job && memcmp(d->job.hash, o->job_hash, 32) == 0) {
        answer_job(d, msg->msg_id, 1, PB_DECLINE_NONE, "accepted", o->job_hash);
        return;
    }
    drop_job(d);
    err = pb_job_parse("job offer", (const char *) o->job_file, o->job_file_len,
                       &d->job, &eb);
    if (err == FL_OK) {
        d->have_job = 1;
        err = judge_job(d, &why, &eb);
    }
    if (err != FL_OK) {
        fl_log_warn("declining job %s: %s", d->have_job ? d->job.name : "?",
                    eb.msg);
        answer_job(d, msg->msg_id, 0, why, eb.msg, o->job_hash);
        drop_job(d);
        return;
    }
    fl_log_info("accepted job %s (%s): %zu training and %zu held-out "
                "records, sigma %.4f, q %.4f",
                d->job.name, d->job.hash_hex, node_dataset_rows(d->train),
                node_dataset_rows(d->heldout), d->job.noise_multiplier,
                node__round_mechanism(d).sampling_rate);
    answer_job(d, msg->msg_id, 1, PB_DECLINE_NONE, "accepted", o->job_hash);
}

static void
on_message(node_daemon_t *d, const uint8_t *buf, size_t len)
{
    fl_errbuf_t eb = {{0}};
    pb_msg_t m;

    if (pb_envelope_decode(buf, len, &d->lim, &m, &eb) != FL_OK) {
        fl_log_warn("message from the coordinator rejected: %s", eb.msg);
        return;
    }
    switch (m.type) {
    case PB_WELCOME:
        fl_log_info("welcomed by %s as %s", m.u.welcome.coordinator_version,
                    m.u.welcome.site_id);
        break;
    case PB_JOB_OFFER:
        on_job_offer(d, &m);
        break;
    case PB_TRAIN_REQUEST:
        node__on_train_request(d, &m);
        break;
    case PB_EVAL_REQUEST:
        node__on_eval_request(d, &m);
        break;
    case PB_BYE:
        fl_log_info("coordinator says bye: %s", m.u.bye.text);
        if (m.u.bye.reason != PB_BYE_SHUTDOWN)
            d->finished = 1;
        break;
    case PB_ERROR:
        fl_log_warn("coordinator error %d: %s", (int) m.u.error.code,
                    m.u.error.text);
        break;
    default:
        fl_log_warn("unexpected %s from the coordinator", pb_type_name(m.type));
        break;
    }
    pb_msg_cleanup(&m);
}

static void
on_event(node_daemon_t *d, const chan_event_t *ev)
{
    pb_msg_t hello;

    switch (ev->type) {
    case CHAN_EV_READY:
        memset(&hello, 0, sizeof hello);
        hello.type = PB_HELLO;
        (void) snprintf(hello.u.hello.software_version,
                        sizeof hello.u.hello.software_version, "dpfl %s",
                        DPFL_VERSION);
        (void) node__reply(d, &hello, 0);
        break;
    case CHAN_EV_REFUSED:
    case CHAN_EV_PROTO:
        fl_log_warn("channel: %s: %s", chan_event_name(ev->type), ev->reason);
        break;
    case CHAN_EV_CLOSED:
        fl_log_info("channel closed: %s", ev->reason);
        break;
    default:
        break;
    }
}

fl_err_t
node_daemon_step(node_daemon_t *d, int timeout_ms, fl_errbuf_t *eb)
{
    chan_event_t ev;
    uint8_t *buf;
    size_t len;
    fl_err_t err = chan_client_poll(d->cli, timeout_ms, eb);

    if (err != FL_OK)
        return err;
    while (chan_client_event(d->cli, &ev) == FL_OK)
        on_event(d, &ev);
    while (!d->finished && chan_client_recv(d->cli, &buf, &len) == FL_OK) {
        on_message(d, buf, len);
        free(buf);
    }
    if (d->held && fl_clock_mono_ms() >= d->held_due_ms)
        node__send_held(d);
    if (d->fatal)
        return fl_fail(eb, FL_ERR_IO, "%s", d->fatal_msg);
    return FL_OK;
}

static fl_err_t
open_records(node_daemon_t *d, fl_errbuf_t *eb)
{
    char path[PATH_MAX];
    fl_err_t err;

    if (mkdir(d->cfg->state_dir, 0700) != 0 && errno != EEXIST)
        return fl_fail(eb, FL_ERR_IO, "%s: %s", d->cfg->state_dir,
                       strerror(errno));
    (void) snprintf(path, sizeof path, "%s/budget.ledger", d->cfg->state_dir);
    err = dp_ledger_open(path, &d->ledger, eb);
    if (err != FL_OK)
        return err;
    if (dp_ledger_uncommitted_count(d->ledger) > 0)
        fl_log_warn("%s: %zu reservation(s) never committed (interrupted "
                    "rounds): counted as spent",
                    path, dp_ledger_uncommitted_count(d->ledger));
    if (d->cfg->audit_key == NULL)
        return FL_OK;
    err = dp_audit_key_load_private(d->cfg->audit_key, &d->audit_key, eb);
    if (err != FL_OK)
        return err;
    (void) snprintf(path, sizeof path, "%s/audit.jsonl", d->cfg->state_dir);
    return dp_audit_open(path, d->audit_key, d->cfg->name, &d->audit, eb);
}

static fl_err_t
open_channel(node_daemon_t *d, fl_errbuf_t *eb)
{
    chan_client_opts_t o;

    memset(&o, 0, sizeof o);
    o.endpoint = d->cfg->coordinator;
    o.zmq_context = d->zmq_context;
    o.server_name = d->cfg->coordinator_name;
    o.tls = d->cfg->tls;
    o.max_msg_size = d->cfg->max_message_bytes;
    pb_limits_default(&d->lim);
    d->lim.max_message_bytes = d->cfg->max_message_bytes;
    return chan_client_new(&o, &d->cli, eb);
}

fl_err_t
node_daemon_new(const node_daemon_opts_t *o, node_daemon_t **out,
                fl_errbuf_t *eb)
{
    node_daemon_t *d = calloc(1, sizeof *d);
    double eps = 0;
    fl_err_t err;

    *out = NULL;
    if (d == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "node: out of memory");
    d->cfg = o->cfg;
    d->dataset = o->dataset;
    d->zmq_context = o->zmq_context;
    /* A random first id: the coordinator drops ids it saw before, so a
     * restarted node must not reuse its predecessor's. */
    if (pb_msg_id_first(&d->next_msg_id) != FL_OK) {
        free(d);
        return fl_fail(eb, FL_ERR_CRYPTO, "message ids: no randomness");
    }
    if (o->faults != NULL && !o->seeded) {
        free(d);
        return fl_fail(eb, FL_ERR_INVALID,
                       "fault injection is for seeded simulations only");
    }
    err = o->seeded ? dp_rng_new_seeded(&d->rng, o->seed, eb)
                    : dp_rng_new_secure(&d->rng, eb);
    if (err == FL_OK && o->faults != NULL) {
        d->faults = *o->faults;
        err = dp_rng_new_seeded(&d->fault_rng, o->seed ^ 0x5eedfa017ULL, eb);
    }
    if (err == FL_OK)
        err = open_records(d, eb);
    if (err == FL_OK)
        err = node__epsilon(d, NULL, &eps, eb);
    if (err == FL_OK)
        err = open_channel(d, eb);
    if (err != FL_OK) {
        node_daemon_destroy(&d);
        return err;
    }
    node__audit(d, DP_AUDIT_EV_START,
                json_pack("{s:s, s:s, s:f, s:f, s:f, s:I}", "software_version",
                          DPFL_VERSION, "generator",
                          dp_rng_kind_name(dp_rng_kind(d->rng)),
                          "epsilon_spent", eps, "epsilon_max",
                          d->cfg->policy.epsilon_max, "delta",
                          d->cfg->policy.delta, "ledger_entries",
                          (json_int_t) dp_ledger_count(d->ledger)));
    fl_log_info("%s: epsilon %.4f of %g spent (delta %g, %zu ledger "
                "entries); generator %s; coordinator %s",
                d->cfg->name, eps, d->cfg->policy.epsilon_max,
                d->cfg->policy.delta, dp_ledger_count(d->ledger),
                dp_rng_kind_name(dp_rng_kind(d->rng)), d->cfg->coordinator);
    *out = d;
    return FL_OK;
}

void
node_daemon_destroy(node_daemon_t **d_p)
{
    node_daemon_t *d = *d_p;

    if (d == NULL)
        return;
    if (d->ledger != NULL)
        node__audit(d, DP_AUDIT_EV_SHUTDOWN,
                    json_pack("{s:I, s:b}", "rounds_trained",
                              (json_int_t) d->rounds_trained, "job_done",
                              d->finished));
    drop_job(d);
    chan_client_destroy(&d->cli);
    dp_audit_close(&d->audit);
    EVP_PKEY_free(d->audit_key);
    dp_ledger_close(&d->ledger);
    dp_rng_destroy(&d->rng);
    dp_rng_destroy(&d->fault_rng);
    free(d);
    *d_p = NULL;
}

int
node_daemon_finished(const node_daemon_t *d)
{
    return d->finished;
}

uint64_t
node_daemon_rounds_trained(const node_daemon_t *d)
{
    return d->rounds_trained;
}
