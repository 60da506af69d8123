/* coordinator/coordinator.c: lifecycle, channel events, message dispatch. */
#include "coordinator/internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/clock.h"
#include "common/durable.h"
#include "common/log.h"
#include "coordinator/checkpoint.h"
#include "node/job_model.h"
#include "privacy/accountant.h"

uint64_t
coord__next_id(coord_t *c)
{
    return c->next_msg_id++;
}

coord_peer_t *
coord__peer(coord_t *c, const char *site_id)
{
    for (size_t i = 0; i < c->n_peers; i++)
        if (strcmp(c->peers[i].id, site_id) == 0)
            return &c->peers[i];
    return NULL;
}

coord_site_t *
coord__site(coord_t *c, const coord_peer_t *p)
{
    return p->budget_idx < 0 ? NULL : &c->budget.sites[p->budget_idx];
}

void
coord__sha256_hex(const void *data, size_t len, char out[65])
{
    uint8_t d[32];
    unsigned int n = 0;

    if (EVP_Digest(data, len, d, &n, EVP_sha256(), NULL) != 1)
        memset(d, 0, sizeof d);
    pb_hex32(d, out);
}

dp_sgm_t
coord__round_mechanism(const coord_t *c, const coord_site_t *s)
{
    dp_sgm_t m;
    double q = (double) c->job.batch_size / (double) s->records;

    m.sampling_rate = q > 1 ? 1 : q;
    m.noise_multiplier = c->job.noise_multiplier;
    m.steps = c->job.local_steps;
    return m;
}

void
coord__drop_kept(coord_t *c, const coord_peer_t *p, uint64_t msg_id)
{
    /* FL_ERR_NOT_FOUND means it was answered already: nothing to drop. */
    if (msg_id != 0 && chan_server_ack(c->srv, p->id, msg_id) != FL_OK)
        fl_log_debug("%s: message %llu no longer kept", p->id,
                     (unsigned long long) msg_id);
}

fl_err_t
coord__send(coord_t *c, coord_peer_t *p, pb_msg_t *msg, unsigned flags,
            uint64_t *sent_id)
{
    fl_errbuf_t eb = {{0}};
    uint8_t *buf = NULL;
    size_t len = 0;
    fl_err_t err;

    msg->msg_id = coord__next_id(c);
    err = pb_envelope_encode(msg, &buf, &len, &eb);
    /* The channel takes the encoded buffer: no copy of the model. */
    if (err == FL_OK)
        err = chan_server_send_owned(c->srv, p->id, buf, len, flags, &eb);
    if (err != FL_OK)
        fl_log_warn("%s: send %s: %s", p->id, pb_type_name(msg->type),
                    fl_errbuf_str(&eb, err));
    else if (sent_id != NULL)
        *sent_id = msg->msg_id;
    return err;
}

/* Sigma from the job's target epsilon, for the smallest declared site. */
static fl_err_t
calibrate(coord_t *c, fl_errbuf_t *eb)
{
    dp_accountant_opts_t opts = {(dp_accountant_kind_t) c->job.accountant,
                                 DP_ORDERS_DEFAULT, 0};
    double q, sigma = 0, eps = 0;
    uint64_t steps;
    fl_err_t err;

    if (!c->job.dp || c->job.target_epsilon <= 0)
        return FL_OK;
    pb_job_calibration_inputs(&c->job, &q, &steps);
    err = dp_accountant_calibrate(&opts, q, steps, c->job.delta,
                                  c->job.target_epsilon, &sigma, &eps, eb);
    if (err != FL_OK)
        return fl_fail_prefix(eb, err, "%s: calibrating sigma", c->job.name);
    c->job.noise_multiplier = sigma;
    fl_log_info("job %s: sigma %.4f reaches epsilon %.3f at delta %g for "
                "%llu steps at q %.4f (%s)",
                c->job.name, sigma, eps, c->job.delta,
                (unsigned long long) steps, q,
                dp_accountant_kind_name(opts.kind));
    return FL_OK;
}

static fl_err_t
open_state(coord_t *c, fl_errbuf_t *eb)
{
    coord_ckpt_t ck;
    fl_err_t err;

    if (mkdir(c->cfg->state_dir, 0700) != 0 && errno != EEXIST)
        return fl_fail(eb, FL_ERR_IO, "%s: %s", c->cfg->state_dir,
                       strerror(errno));
    (void) snprintf(c->ckpt_path, sizeof c->ckpt_path, "%s/checkpoint.bin",
                    c->cfg->state_dir);
    (void) snprintf(c->model_path, sizeof c->model_path, "%s/final-model.f32",
                    c->cfg->state_dir);
    memset(&ck, 0, sizeof ck);
    memcpy(ck.job_hash, c->job.hash, 32);
    ck.dim = c->dim;
    ck.model = c->model;
    ck.opt = c->opt;
    ck.budget = &c->budget;
    err = coord_ckpt_load(c->ckpt_path, &ck, eb);
    if (err == FL_ERR_NOT_FOUND)
        return FL_OK;
    if (err != FL_OK)
        return err;
    c->rounds_done = ck.rounds_done;
    fl_log_info("resumed from %s: %u rounds done, %zu sites in the mirror",
                c->ckpt_path, c->rounds_done, c->budget.n);
    return FL_OK;
}

static fl_err_t
open_audit(coord_t *c, fl_errbuf_t *eb)
{
    char path[PATH_MAX];
    fl_err_t err;

    if (c->cfg->audit_key == NULL)
        return FL_OK;
    err = dp_audit_key_load_private(c->cfg->audit_key, &c->audit_key, eb);
    if (err != FL_OK)
        return err;
    (void) snprintf(path, sizeof path, "%s/audit.jsonl", c->cfg->state_dir);
    return dp_audit_open(path, c->audit_key, c->cfg->name, &c->audit, eb);
}

static fl_err_t
open_model(coord_t *c, fl_errbuf_t *eb)
{
    fl_err_t err;

    c->dim = pb_job_param_count(&c->job);
    c->model = calloc(c->dim, sizeof *c->model);
    c->delta = calloc(c->dim, sizeof *c->delta);
    if (c->model == NULL || c->delta == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "model: out of memory");
    err = coord_agg_new(c->job.aggregator, c->dim, c->n_peers,
                        c->job.trim_fraction, &c->agg, eb);
    if (err == FL_OK)
        err = coord_server_opt_new(c->job.server_optimizer, c->dim,
                                   c->job.server_learning_rate,
                                   c->job.server_momentum, &c->opt, eb);
    if (err == FL_OK)
        err = node_job_model_init(&c->job, c->model, c->dim, eb);
    return err;
}

static fl_err_t
open_channel(coord_t *c, fl_errbuf_t *eb)
{
    chan_server_opts_t o;
    size_t model_bytes = c->dim * sizeof(float) + (1u << 20);

    memset(&o, 0, sizeof o);
    o.endpoint = c->cfg->listen;
    o.zmq_context = c->zmq_context;
    o.tls = c->cfg->tls;
    o.allow = c->cfg->allow;
    o.n_allow = c->cfg->n_allow;
    o.max_msg_size = c->cfg->max_message_bytes;
    if (model_bytes > o.max_msg_size)
        return fl_fail(eb, FL_ERR_LIMIT,
                       "job model needs messages of %zu bytes; raise "
                       "coordinator.max_message_mb",
                       model_bytes);
    pb_limits_default(&c->lim);
    c->lim.max_message_bytes = o.max_msg_size;
    c->lim.model_dim = c->dim;
    c->lim.n_classes = c->job.classes;
    return chan_server_new(&o, &c->srv, eb);
}

static fl_err_t
open_peers(coord_t *c, fl_errbuf_t *eb)
{
    c->n_peers = c->cfg->n_allow;
    c->peers = calloc(c->n_peers, sizeof *c->peers);
    if (c->peers == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "peers: out of memory");
    for (size_t i = 0; i < c->n_peers; i++) {
        (void) snprintf(c->peers[i].id, sizeof c->peers[i].id, "%s",
                        c->cfg->allow[i].site_id);
        c->peers[i].budget_idx = -1;
    }
    return FL_OK;
}

/* Links peers to the mirror sites restored from a checkpoint. */
static void
link_restored_sites(coord_t *c)
{
    for (size_t i = 0; i < c->budget.n; i++) {
        coord_peer_t *p = coord__peer(c, c->budget.sites[i].id);

        if (p != NULL)
            p->budget_idx = (long) i;
    }
}

static void
audit_start(coord_t *c, const char *config_path)
{
    char *bytes = NULL;
    size_t len = 0;
    char cfg_hash[65] = "";
    fl_errbuf_t eb = {{0}};

    if (config_path != NULL &&
        fl_file_read_all(config_path, 1 << 20, &bytes, &len, &eb) == FL_OK)
        coord__sha256_hex(bytes, len, cfg_hash);
    free(bytes);
    coord__audit(c, DP_AUDIT_EV_START, c->cfg->name,
                 json_pack("{s:s, s:s, s:I}", "software_version", DPFL_VERSION,
                           "config_sha256", cfg_hash, "resumed_rounds",
                           (json_int_t) c->rounds_done));
    coord__audit(
        c, DP_AUDIT_EV_JOB_LOADED, c->cfg->name,
        json_pack(
            "{s:s, s:s, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:s, s:b}",
            "job_hash", c->job.hash_hex, "name", c->job.name,
            "noise_multiplier", c->job.noise_multiplier, "clip_norm",
            c->job.clip_norm, "delta", c->job.delta, "target_epsilon",
            c->job.target_epsilon, "batch_size", (json_int_t) c->job.batch_size,
            "local_steps", (json_int_t) c->job.local_steps, "rounds",
            (json_int_t) c->job.rounds, "accountant",
            dp_accountant_kind_name((dp_accountant_kind_t) c->job.accountant),
            "dp", c->job.dp));
}

fl_err_t
coord_new(const coord_opts_t *o, coord_t **out, fl_errbuf_t *eb)
{
    coord_t *c = calloc(1, sizeof *c);
    fl_err_t err;

    *out = NULL;
    if (c == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "coordinator: out of memory");
    c->cfg = o->cfg;
    c->progress = o->progress != NULL ? o->progress : stdout;
    c->json = o->json;
    c->on_round = o->on_round;
    c->zmq_context = o->zmq_context;
    c->on_round_ctx = o->on_round_ctx;
    /* Ids unique across restarts: peers drop ids they saw before. */
    if (pb_msg_id_first(&c->next_msg_id) != FL_OK) {
        free(c);
        return fl_fail(eb, FL_ERR_CRYPTO, "message ids: no randomness");
    }
    coord_budget_init(&c->budget, DP_ACCOUNTANT_RDP);
    c->job_bytes = malloc(o->job_len + 1);
    if (c->job_bytes == NULL) {
        err = fl_fail(eb, FL_ERR_NOMEM, "job: out of memory");
        goto fail;
    }
    memcpy(c->job_bytes, o->job_bytes, o->job_len);
    c->job_bytes[o->job_len] = '\0';
    c->job_len = o->job_len;
    if ((err = pb_job_parse(o->job_path, o->job_bytes, o->job_len, &c->job,
                            eb)) != FL_OK)
        goto fail;
    c->budget.accountant.kind = (dp_accountant_kind_t) c->job.accountant;
    if ((err = calibrate(c, eb)) != FL_OK ||
        (err = open_peers(c, eb)) != FL_OK ||
        (err = open_model(c, eb)) != FL_OK ||
        (err = open_state(c, eb)) != FL_OK ||
        (err = open_audit(c, eb)) != FL_OK ||
        (err = open_channel(c, eb)) != FL_OK)
        goto fail;
    link_restored_sites(c);
    audit_start(c, o->config_path);
    c->phase = COORD_PHASE_WAIT;
    c->phase_start_ms = fl_clock_mono_ms();
    fl_log_info("job %s (%s): %u rounds of %u steps, model %zu parameters, "
                "listening on %s",
                c->job.name, c->job.hash_hex, c->job.rounds, c->job.local_steps,
                c->dim, c->cfg->listen);
    *out = c;
    return FL_OK;
fail:
    coord_destroy(&c);
    return err;
}

void
coord_destroy(coord_t **c_p)
{
    coord_t *c = *c_p;

    if (c == NULL)
        return;
    if (c->srv != NULL) {
        pb_msg_t bye;

        memset(&bye, 0, sizeof bye);
        bye.type = PB_BYE;
        bye.u.bye.reason =
            c->phase == COORD_PHASE_DONE ? PB_BYE_JOB_DONE : PB_BYE_SHUTDOWN;
        (void) snprintf(bye.u.bye.text, sizeof bye.u.bye.text, "%s",
                        c->end_reason[0] ? c->end_reason : "shutdown");
        for (size_t i = 0; i < c->n_peers; i++)
            if (c->peers[i].live)
                (void) coord__send(c, &c->peers[i], &bye, CHAN_SEND_NO_REPLY,
                                   NULL);
        /* Give the frames a moment to leave before the sockets close. */
        for (int i = 0; i < 5; i++) {
            fl_errbuf_t eb = {{0}};

            if (chan_server_poll(c->srv, 20, &eb) != FL_OK)
                break;
        }
    }
    coord__audit(c, DP_AUDIT_EV_SHUTDOWN, c->cfg != NULL ? c->cfg->name : "",
                 json_pack("{s:I, s:s}", "rounds_done",
                           (json_int_t) c->rounds_done, "reason",
                           c->end_reason[0] ? c->end_reason : "stopped"));
    chan_server_destroy(&c->srv);
    dp_audit_close(&c->audit);
    EVP_PKEY_free(c->audit_key);
    coord_agg_destroy(&c->agg);
    coord_server_opt_destroy(&c->opt);
    coord_budget_cleanup(&c->budget);
    pb_job_cleanup(&c->job);
    free(c->job_bytes);
    free(c->model);
    free(c->delta);
    free(c->peers);
    free(c);
    *c_p = NULL;
}

fl_err_t
coord_reload(coord_t *c, fl_errbuf_t *eb)
{
    return chan_server_reload(c->srv, eb);
}

coord_phase_t
coord_phase(const coord_t *c)
{
    return c->phase;
}

unsigned
coord_rounds_done(const coord_t *c)
{
    return c->rounds_done;
}

int
coord_port(const coord_t *c)
{
    return chan_server_port(c->srv);
}

/* A newly authenticated session: Welcome, the job offer, the open round. */
static void
on_authenticated(coord_t *c, const chan_event_t *ev)
{
    coord_peer_t *p = coord__peer(c, ev->site_id);
    fl_errbuf_t eb = {{0}};
    pb_msg_t m;
    uint8_t *buf = NULL;
    size_t len = 0;

    if (p == NULL)
        return;
    fl_log_info("%s: authenticated (certificate %s, %s)", ev->site_id,
                ev->fingerprint, ev->peer_addr);
    coord__audit(c, DP_AUDIT_EV_NODE_AUTHENTICATED, ev->site_id,
                 json_pack("{s:s, s:s, s:s}", "site", ev->site_id,
                           "fingerprint", ev->fingerprint, "address",
                           ev->peer_addr));
    (void) snprintf(p->fingerprint, sizeof p->fingerprint, "%s",
                    ev->fingerprint);
    /* The peer may be a new process: drop what is kept for the old one,
     * offer the job first, then ask again for the open round. */
    coord__drop_kept(c, p, p->offer_id);
    coord__drop_kept(c, p, p->req_id);
    coord__drop_kept(c, p, p->eval_req_id);
    memset(&m, 0, sizeof m);
    m.type = PB_WELCOME;
    m.msg_id = coord__next_id(c);
    (void) snprintf(m.u.welcome.site_id, sizeof m.u.welcome.site_id, "%s",
                    p->id);
    (void) snprintf(m.u.welcome.coordinator_version,
                    sizeof m.u.welcome.coordinator_version, "dpfl %s",
                    DPFL_VERSION);
    if (pb_envelope_encode(&m, &buf, &len, &eb) != FL_OK ||
        chan_server_welcome(c->srv, p->id, buf, len, &eb) != FL_OK) {
        fl_log_warn("%s: welcome: %s", p->id, eb.msg);
        free(buf);
        return;
    }
    free(buf);
    p->live = 1;
    memset(&m, 0, sizeof m);
    m.type = PB_JOB_OFFER;
    m.u.job_offer.job_file = (uint8_t *) c->job_bytes;
    m.u.job_offer.job_file_len = c->job_len;
    memcpy(m.u.job_offer.job_hash, c->job.hash, 32);
    if (p->job != PEER_ACCEPTED)
        p->job = PEER_OFFERED;
    (void) coord__send(c, p, &m, 0, &p->offer_id);
    coord__resend_round(c, p);
}

static void
on_event(coord_t *c, const chan_event_t *ev)
{
    coord_peer_t *p;

    switch (ev->type) {
    case CHAN_EV_AUTHENTICATED:
        on_authenticated(c, ev);
        break;
    case CHAN_EV_REFUSED:
        fl_log_warn("refused %s%s%s: %s", ev->peer_addr,
                    ev->site_id[0] ? " claiming " : "", ev->site_id,
                    ev->reason);
        coord__audit(c, DP_AUDIT_EV_NODE_REFUSED,
                     ev->site_id[0] ? ev->site_id : "unknown",
                     json_pack("{s:s, s:s, s:s, s:s}", "site", ev->site_id,
                               "fingerprint", ev->fingerprint, "address",
                               ev->peer_addr, "reason", ev->reason));
        break;
    case CHAN_EV_CLOSED:
        p = coord__peer(c, ev->site_id);
        if (p != NULL && !chan_server_is_live(c->srv, p->id))
            p->live = 0;
        fl_log_info("%s: session closed: %s", ev->site_id, ev->reason);
        break;
    case CHAN_EV_PROTO:
        fl_log_warn("protocol error from %s %s: %s", ev->site_id, ev->peer_addr,
                    ev->reason);
        break;
    default:
        break;
    }
}

static void
on_job_answer(coord_t *c, coord_peer_t *p, const pb_job_answer_t *a)
{
    fl_errbuf_t eb = {{0}};
    coord_site_t *s = NULL;

    if (memcmp(a->job_hash, c->job.hash, 32) != 0) {
        fl_log_warn("%s: answered for another job", p->id);
        return;
    }
    if (!a->accept) {
        p->job = PEER_DECLINED;
        (void) snprintf(p->decline_reason, sizeof p->decline_reason, "%s",
                        a->text);
        fl_log_warn("%s: declined the job: %s", p->id, a->text);
        coord__audit(c, DP_AUDIT_EV_JOB_DECLINED, p->id,
                     json_pack("{s:s, s:s, s:i}", "job_hash", c->job.hash_hex,
                               "reason", a->text, "code", (int) a->reason));
        return;
    }
    if (c->job.dp && a->accountant == PB_ACCOUNTANT_NONE) {
        fl_log_warn("%s: job answer refused: no accountant for a DP job",
                    p->id);
        return;
    }
    if (coord_budget_add_site(&c->budget, p->id, a->dataset_size,
                              c->job.dp ? a->epsilon_budget : 1e300, a->delta,
                              a->accountant == PB_ACCOUNTANT_PLD
                                  ? DP_ACCOUNTANT_PLD
                                  : DP_ACCOUNTANT_RDP,
                              &s, &eb) != FL_OK) {
        fl_log_warn("%s: job answer refused: %s", p->id, eb.msg);
        return;
    }
    p->budget_idx = (long) (s - c->budget.sites);
    if (p->job != PEER_ACCEPTED) {
        fl_log_info("%s: accepted the job (declared %llu records, budget "
                    "epsilon %g at delta %g)",
                    p->id, (unsigned long long) a->dataset_size,
                    a->epsilon_budget, a->delta);
        coord__audit(c, DP_AUDIT_EV_JOB_ACCEPTED, p->id,
                     json_pack("{s:s, s:I, s:f, s:f, s:i}", "job_hash",
                               c->job.hash_hex, "dataset_size_disclosed",
                               (json_int_t) a->dataset_size, "epsilon_budget",
                               a->epsilon_budget, "delta", a->delta,
                               "accountant", (int) a->accountant));
    }
    p->job = PEER_ACCEPTED;
}

static void
on_message(coord_t *c, const char *site, uint8_t *buf, size_t len)
{
    coord_peer_t *p = coord__peer(c, site);
    fl_errbuf_t eb = {{0}};
    pb_msg_t m;
    fl_err_t err;

    if (p == NULL)
        return;
    err = pb_envelope_decode(buf, len, &c->lim, &m, &eb);
    if (err != FL_OK) {
        uint64_t reply_to = 0;
        char h[65];

        if (pb_envelope_peek(buf, len, NULL, &reply_to) == FL_OK &&
            reply_to != 0 && reply_to == p->req_id)
            coord__answered_badly(c, p);
        coord__sha256_hex(buf, len, h);
        fl_log_warn("%s: message rejected: %s", site, eb.msg);
        coord__audit(c, DP_AUDIT_EV_UPDATE_REJECTED, site,
                     json_pack("{s:s, s:I, s:s, s:s}", "site", site, "round",
                               (json_int_t) c->round_id, "reason", eb.msg,
                               "message_sha256", h));
        return;
    }
    switch (m.type) {
    case PB_HELLO:
        fl_log_info("%s: hello from %s", site, m.u.hello.software_version);
        break;
    case PB_JOB_ANSWER:
        on_job_answer(c, p, &m.u.job_answer);
        break;
    case PB_TRAIN_RESULT:
        coord__on_train_result(c, p, &m);
        break;
    case PB_DECLINE:
        coord__on_decline(c, p, &m);
        break;
    case PB_EVAL_RESULT:
        coord__on_eval_result(c, p, &m);
        break;
    case PB_ERROR:
        fl_log_warn("%s: error %d: %s", site, (int) m.u.error.code,
                    m.u.error.text);
        break;
    case PB_BYE:
        fl_log_info("%s: bye: %s", site, m.u.bye.text);
        break;
    default:
        fl_log_warn("%s: unexpected %s", site, pb_type_name(m.type));
        break;
    }
    pb_msg_cleanup(&m);
}

fl_err_t
coord_step(coord_t *c, int timeout_ms, fl_errbuf_t *eb)
{
    char site[CHAN_SITE_ID_MAX + 1];
    chan_event_t ev;
    uint8_t *buf;
    size_t len;
    fl_err_t err = chan_server_poll(c->srv, timeout_ms, eb);

    if (err != FL_OK)
        return err;
    while (chan_server_event(c->srv, &ev) == FL_OK)
        on_event(c, &ev);
    while (chan_server_recv(c->srv, site, &buf, &len) == FL_OK) {
        on_message(c, site, buf, len);
        free(buf);
    }
    coord__tick(c);
    return FL_OK;
}
