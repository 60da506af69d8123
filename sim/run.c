/* sim/run.c: the single loop driving the coordinator and N nodes. */
#include "sim/run_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/hex.h"

/* Nodes connected at once: the channel's default cap on half-open
 * sessions is 256, and a smaller wave keeps handshakes within their
 * timeout on a busy machine. */
#define WAVE 64
#define WAVE_TIMEOUT_MS 120000

uint64_t
sim_node_seed(uint64_t seed, size_t i)
{
    return sim_mix64(seed ^ sim_mix64((uint64_t) i + 1));
}

static fl_err_t
check_opts(const sim_opts_t *o, fl_errbuf_t *eb)
{
    if (o == NULL || o->job_path == NULL || o->data_path == NULL)
        return fl_fail(eb, FL_ERR_INVALID, "sim: job and data are required");
    if (o->n_nodes == 0 || o->n_nodes > SIM_MAX_NODES)
        return fl_fail(eb, FL_ERR_INVALID, "sim: nodes must be 1 .. %d",
                       SIM_MAX_NODES);
    if (!(o->drop_rate >= 0 && o->drop_rate <= 1) ||
        !(o->straggle_rate >= 0 && o->straggle_rate <= 1))
        return fl_fail(eb, FL_ERR_INVALID,
                       "sim: drop and straggle rates must be in [0, 1]");
    if (o->n_byzantine > o->n_nodes)
        return fl_fail(eb, FL_ERR_INVALID, "sim: %zu byzantine nodes among %zu",
                       o->n_byzantine, o->n_nodes);
    if (!(o->holdout >= 0 && o->holdout < 1))
        return fl_fail(eb, FL_ERR_INVALID, "sim: holdout must be in (0, 1)");
    if (!(o->epsilon >= 0) || !isfinite(o->epsilon) || !(o->budget >= 0))
        return fl_fail(eb, FL_ERR_INVALID, "sim: epsilon must be >= 0");
    if (o->transport != SIM_TRANSPORT_INPROC &&
        o->transport != SIM_TRANSPORT_TCP)
        return fl_fail(eb, FL_ERR_INVALID, "sim: unknown transport");

    return FL_OK;
}

static void
print_round(const sim_ctx_t *s, const sim_round_t *r, int evaluated, int again)
{
    FILE *f = s->o->progress;

    if (f == NULL)
        return;
    if (s->o->json) {
        (void) fprintf(
            f,
            "{\"event\":\"%s\",\"round\":%u,\"rounds\":%u,\"asked\":%u,"
            "\"updates\":%u,\"seconds\":%.4f,\"cpu_seconds\":%.4f,"
            "\"epsilon_max\":%.6f,\"epsilon_mean\":%.6f",
            again ? "evaluation" : "round", r->round, s->res->rounds_planned,
            r->asked, r->updates, r->seconds, r->cpu_seconds, r->eps_max,
            r->eps_mean);
        if (evaluated && r->has_metrics)
            (void) fprintf(
                f, ",\"accuracy\":%.6f,\"loss\":%.6f,\"heldout\":%llu",
                r->accuracy, r->loss, (unsigned long long) r->n_heldout);
        (void) fprintf(f, "}\n");
    } else {
        (void) fprintf(f,
                       "%s %3u/%u  %4u asked %4u updates  epsilon max "
                       "%.3f mean %.3f",
                       again ? "eval " : "round", r->round,
                       s->res->rounds_planned, r->asked, r->updates, r->eps_max,
                       r->eps_mean);
        if (evaluated && r->has_metrics)
            (void) fprintf(f, "  accuracy %.4f (%llu held out)", r->accuracy,
                           (unsigned long long) r->n_heldout);
        (void) fprintf(f, "  %.2fs (cpu %.2fs)\n", r->seconds, r->cpu_seconds);
    }
    (void) fflush(f);
}

static int
grow_rounds(sim_result_t *res)
{
    size_t n = res->n_rounds + 1;
    sim_round_t *r = realloc(res->rounds, n * sizeof *r);
    double *e;

    if (r == NULL)
        return 0;
    res->rounds = r;
    e = realloc(res->epsilon, n * res->n_nodes * sizeof *e);
    if (e == NULL)
        return 0;
    res->epsilon = e;
    memset(&res->rounds[n - 1], 0, sizeof *r);
    res->n_rounds = n;
    return 1;
}

/* The coordinator's callback after every round (and evaluation). */
static void
on_round(void *ctx, const coord_t *c, int evaluated)
{
    sim_ctx_t *s = ctx;
    sim_result_t *res = s->res;
    coord_round_view_t v;
    sim_round_t *r;
    double *eps, now_cpu = sim__cpu_seconds(), sum = 0;
    size_t n_acc = 0;
    int same;

    coord_round_view(c, &v);
    same = res->n_rounds > 0 && res->rounds[res->n_rounds - 1].round == v.round;
    if (!same && !grow_rounds(res))
        return;
    r = &res->rounds[res->n_rounds - 1];
    eps = res->epsilon + (res->n_rounds - 1) * res->n_nodes;
    if (!same) {
        r->round = v.round;
        r->asked = v.asked;
        r->updates = v.updates;
        r->seconds = v.seconds;
        r->cpu_seconds = now_cpu - s->last_cpu;
        s->last_cpu = now_cpu;
        r->eps_max = 0;
        for (size_t i = 0; i < res->n_nodes; i++) {
            coord_site_view_t sv;

            coord_site_view(c, i, &sv);
            eps[i] = sv.epsilon;
            sum += sv.accepted ? sv.epsilon : 0;
            n_acc += sv.accepted != 0;
            if (sv.epsilon > r->eps_max)
                r->eps_max = sv.epsilon;
        }
        r->eps_mean = n_acc > 0 ? sum / (double) n_acc : 0;
    }
    if (evaluated && v.has_metrics) {
        r->has_metrics = 1;
        r->n_heldout = v.n_heldout;
        r->accuracy = v.accuracy;
        r->loss = v.loss;
    }
    print_round(s, r, evaluated, same);
}

/* One turn: the coordinator (waiting up to wait_ms), then every node. */
static fl_err_t
step_all(sim_ctx_t *s, int wait_ms, fl_errbuf_t *eb)
{
    fl_err_t err = coord_step(s->coord, wait_ms, eb);

    if (err != FL_OK)
        return fl_fail_prefix(eb, err, "coordinator");
    for (size_t i = 0; i < s->n_started; i++) {
        err = node_daemon_step(s->nodes[i], 0, eb);
        if (err != FL_OK)
            return fl_fail_prefix(eb, err, "%s", s->ncfg[i].name);
    }
    return FL_OK;
}

static fl_err_t
start_node(sim_ctx_t *s, size_t i, fl_errbuf_t *eb)
{
    node_daemon_opts_t no;
    fl_err_t err;

    memset(&no, 0, sizeof no);
    no.cfg = &s->ncfg[i];
    no.seeded = 1;
    no.seed = sim_node_seed(s->o->seed, i);
    no.dataset = s->parts[i];
    no.faults = s->faults != NULL ? &s->faults[i] : NULL;
    no.zmq_context = s->zctx;
    err = node_daemon_new(&no, &s->nodes[i], eb);
    if (err != FL_OK)
        return fl_fail_prefix(eb, err, "%s", s->ncfg[i].name);
    return FL_OK;
}

/* Starts the nodes a wave at a time; each wave is connected (live at the
 * coordinator) before the next starts. */
static fl_err_t
connect_nodes(sim_ctx_t *s, int64_t deadline, fl_errbuf_t *eb)
{
    size_t n = s->o->n_nodes;
    fl_err_t err = FL_OK;

    while (err == FL_OK && s->n_started < n) {
        size_t first = s->n_started, last = first + WAVE < n ? first + WAVE : n;
        int64_t wave_end = fl_clock_mono_ms() + WAVE_TIMEOUT_MS;
        size_t live = 0;

        for (size_t i = first; err == FL_OK && i < last; i++) {
            err = start_node(s, i, eb);
            s->n_started += err == FL_OK;
        }
        while (err == FL_OK && live < last - first) {
            err = step_all(s, 1, eb);
            live = 0;
            for (size_t i = first; i < last; i++) {
                coord_site_view_t v;

                coord_site_view(s->coord, i, &v);
                live += v.live != 0;
            }
            if (err == FL_OK && (fl_clock_mono_ms() > wave_end ||
                                 fl_clock_mono_ms() > deadline))
                err = fl_fail(eb, FL_ERR_TIMEOUT,
                              "only %zu of nodes %zu..%zu connected", live,
                              first + 1, last);
        }
    }
    return err;
}

static void
sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char d[32];
    unsigned int n = 0;

    out[0] = '\0';
    if (EVP_Digest(data, len, d, &n, EVP_sha256(), NULL) != 1 || n != 32)
        return;
    fl_hex_encode(d, 32, out);
}

/* Final node figures, the model hash, the risk of the most-spent node. */
static void
collect(sim_ctx_t *s)
{
    sim_result_t *res = s->res;
    size_t dim = 0;
    const float *m = coord_model(s->coord, &dim);

    sha256_hex(m, dim * sizeof *m, res->model_sha256);
    res->sigma = coord_noise_multiplier(s->coord);
    for (size_t i = 0; i < res->n_nodes; i++) {
        coord_site_view_t v;
        sim_node_t *nd = &res->nodes[i];

        coord_site_view(s->coord, i, &v);
        nd->accepted = v.accepted;
        nd->records = v.accepted ? v.records : 0;
        nd->rounds_joined = v.rounds_joined;
        nd->rounds_charged = v.rounds_charged;
        nd->epsilon = v.epsilon;
        nd->epsilon_max = v.epsilon_max;
        nd->exhausted = v.exhausted;
        nd->has_metrics = v.has_metrics;
        nd->n_heldout = v.n_heldout;
        nd->accuracy = v.accuracy;
        res->n_declined += !v.accepted;
        if (v.accepted && v.epsilon > res->eps_max) {
            res->eps_max = v.epsilon;
            res->eps_max_node = i;
        }
    }
    for (size_t r = res->n_rounds; r > 0; r--) {
        if (res->rounds[r - 1].has_metrics) {
            res->has_final = 1;
            res->final_accuracy = res->rounds[r - 1].accuracy;
            res->final_loss = res->rounds[r - 1].loss;
            break;
        }
    }
    if (res->eps_max > 0 && res->sigma > 0) {
        const sim_node_t *nd = &res->nodes[res->eps_max_node];
        double q = (double) res->batch_size / (double) nd->records;
        dp_sgm_t h;

        h.sampling_rate = q > 1 ? 1 : q;
        h.noise_multiplier = res->sigma;
        h.steps = (uint64_t) nd->rounds_charged * res->local_steps;
        res->has_risk =
            h.steps > 0 && dp_risk_report(&h, 1, res->eps_max, res->delta,
                                          &res->risk) == FL_OK;
    }
}

static fl_err_t
run_loop(sim_ctx_t *s, int64_t deadline, fl_errbuf_t *eb)
{
    fl_err_t err = FL_OK;

    while (err == FL_OK && coord_phase(s->coord) != COORD_PHASE_DONE) {
        err = step_all(s, 1, eb);
        if (err == FL_OK && fl_clock_mono_ms() > deadline)
            err = fl_fail(eb, FL_ERR_TIMEOUT,
                          "sim: the run did not end within %d s (round %u)",
                          s->o->timeout_s > 0 ? s->o->timeout_s : 3600,
                          coord_rounds_done(s->coord));
    }
    return err;
}

static fl_err_t
start_coordinator(sim_ctx_t *s, fl_errbuf_t *eb)
{
    coord_opts_t co;
    fl_err_t err;

    memset(&co, 0, sizeof co);
    co.cfg = &s->ccfg;
    co.job_path = s->o->job_path;
    co.job_bytes = s->job_bytes;
    co.job_len = s->job_len;
    s->devnull = fopen("/dev/null", "w");
    co.progress = s->devnull;
    co.on_round = on_round;
    co.on_round_ctx = s;
    /* One context for every socket: inproc needs it, and one I/O thread
     * serves 1,000 nodes where a context each would start 1,000. Each node
     * has a DEALER, a monitor PAIR and the monitor's own socket. */
    s->zctx = zmq_ctx_new();
    if (s->zctx == NULL || zmq_ctx_set(s->zctx, ZMQ_MAX_SOCKETS,
                                       (int) (4 * s->o->n_nodes + 64)) != 0)
        return fl_fail(eb, FL_ERR_IO, "sim: zmq context: %s",
                       zmq_strerror(errno));
    co.zmq_context = s->zctx;
    err = coord_new(&co, &s->coord, eb);
    if (err != FL_OK)
        return fl_fail_prefix(eb, err, "coordinator");
    if (s->o->transport == SIM_TRANSPORT_TCP)
        (void) snprintf(s->endpoint, sizeof s->endpoint, "tcp://127.0.0.1:%d",
                        coord_port(s->coord));
    return FL_OK;
}

static fl_err_t
run(sim_ctx_t *s, fl_errbuf_t *eb)
{
    int64_t t0 = fl_clock_mono_ms(), t_pki, t_run;
    int64_t deadline =
        t0 + (int64_t) (s->o->timeout_s > 0 ? s->o->timeout_s : 3600) * 1000;
    fl_err_t err;

    if ((err = sim__load_and_partition(s, eb)) != FL_OK ||
        (err = sim__make_tmp(s, eb)) != FL_OK)
        return err;
    t_pki = fl_clock_mono_ms();
    if ((err = sim_pki_new(s->tmp, s->o->n_nodes, &s->pki, eb)) != FL_OK)
        return err;
    s->res->pki_seconds = (double) (fl_clock_mono_ms() - t_pki) / 1000.0;
    if ((err = sim__coord_config(s, eb)) != FL_OK ||
        (err = sim__node_configs(s, eb)) != FL_OK ||
        (err = start_coordinator(s, eb)) != FL_OK ||
        (err = connect_nodes(s, deadline, eb)) != FL_OK)
        return err;
    t_run = fl_clock_mono_ms();
    s->res->setup_seconds = (double) (t_run - t0) / 1000.0;
    s->last_cpu = sim__cpu_seconds();
    err = run_loop(s, deadline, eb);
    s->res->run_seconds = (double) (fl_clock_mono_ms() - t_run) / 1000.0;
    if (err != FL_OK)
        return err;
    collect(s);
    if (s->res->n_rounds > 0) {
        double cpu = 0;

        for (size_t r = 0; r < s->res->n_rounds; r++)
            cpu += s->res->rounds[r].cpu_seconds;
        s->res->seconds_per_round =
            s->res->run_seconds / (double) s->res->n_rounds;
        s->res->cpu_seconds_per_round = cpu / (double) s->res->n_rounds;
    }
    return FL_OK;
}

static void
teardown(sim_ctx_t *s)
{
    /* Nodes first: their close_notify needs the coordinator's socket
     * (a node whose peer is gone waits out its send timeout). */
    for (size_t i = 0; s->nodes != NULL && i < s->o->n_nodes; i++)
        node_daemon_destroy(&s->nodes[i]);
    coord_destroy(&s->coord);
    if (s->zctx != NULL)
        (void) zmq_ctx_term(s->zctx);
    for (size_t i = 0; s->parts != NULL && i < s->o->n_nodes; i++)
        node_dataset_destroy(&s->parts[i]);
    node_dataset_destroy(&s->all);
    free(s->parts);
    free(s->nodes);
    free(s->ncfg);
    free(s->state_dirs);
    free(s->faults);
    free(s->ccfg.allow);
    free((char *) s->ccfg.state_dir);
    sim_pki_destroy(&s->pki);
    sim__remove_tmp(s);
    if (s->devnull != NULL)
        (void) fclose(s->devnull);
    if (s->have_job)
        pb_job_cleanup(&s->job);
    free(s->job_bytes);
}

fl_err_t
sim_run(const sim_opts_t *o, sim_result_t **out, fl_errbuf_t *eb)
{
    sim_ctx_t s;
    fl_err_t err;

    *out = NULL;
    if ((err = check_opts(o, eb)) != FL_OK)
        return err;
    memset(&s, 0, sizeof s);
    s.o = o;
    s.res = calloc(1, sizeof *s.res);
    if (s.res == NULL ||
        (s.res->nodes = calloc(o->n_nodes, sizeof *s.res->nodes)) == NULL) {
        free(s.res);
        return fl_fail(eb, FL_ERR_NOMEM, "sim: out of memory");
    }
    s.res->n_nodes = o->n_nodes;
    s.res->seed = o->seed;
    s.res->drop_rate = o->drop_rate;
    s.res->straggle_rate = o->straggle_rate;
    s.res->n_byzantine = o->n_byzantine;
    (void) snprintf(s.res->transport, sizeof s.res->transport, "%s",
                    o->transport == SIM_TRANSPORT_TCP ? "tcp" : "inproc");
    err = run(&s, eb);
    teardown(&s);
    s.res->peak_rss_kb = sim__peak_rss_kb();
    if (err != FL_OK) {
        sim_result_destroy(&s.res);
        return err;
    }
    *out = s.res;
    return FL_OK;
}

void
sim_result_destroy(sim_result_t **r_p)
{
    sim_result_t *r = *r_p;

    if (r == NULL)
        return;
    free(r->rounds);
    free(r->epsilon);
    free(r->nodes);
    free(r);
    *r_p = NULL;
}
