/* coordinator/report.c: progress lines, the final summary, audit entries. */
#include "coordinator/internal.h"

#include <string.h>

#include "common/log.h"

void
coord__audit(coord_t *c, const char *type, const char *actor, json_t *body)
{
    fl_errbuf_t eb = {{0}};

    if (body == NULL) {
        fl_log_error("audit %s: could not build the entry", type);
        return;
    }
    if (c->audit != NULL &&
        dp_audit_append(c->audit, type, actor, body, &eb) != FL_OK)
        fl_log_error("audit %s: %s", type, eb.msg);
    json_decref(body);
}

/* Held-out metrics over every site that reported, weighted by examples. */
static int
overall_metrics(const coord_t *c, peer_metrics_t *out)
{
    double n = 0, loss = 0, acc = 0, auroc = 0, n_auroc = 0;

    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < c->n_peers; i++) {
        const peer_metrics_t *m = &c->peers[i].metrics;

        if (!m->valid || m->n == 0)
            continue;
        n += (double) m->n;
        loss += (double) m->n * m->loss;
        acc += (double) m->n * m->accuracy;
        if (m->has_auroc) {
            auroc += (double) m->n * m->auroc;
            n_auroc += (double) m->n;
        }
    }
    if (n == 0)
        return 0;
    out->valid = 1;
    out->n = (uint64_t) n;
    out->loss = loss / n;
    out->accuracy = acc / n;
    out->has_auroc = n_auroc > 0;
    out->auroc = n_auroc > 0 ? auroc / n_auroc : 0;
    return 1;
}

static void
print_round_json(coord_t *c, const peer_metrics_t *m, int with_metrics)
{
    json_t *o = json_pack(
        "{s:s, s:I, s:I, s:I, s:I, s:f}", "event", "round", "round",
        (json_int_t) c->rounds_done, "rounds", (json_int_t) c->job.rounds,
        "answered", (json_int_t) c->round_updates, "asked",
        (json_int_t) c->round_asked, "seconds", c->round_seconds);
    json_t *eps = json_object();
    char *s;

    for (size_t i = 0; i < c->n_peers; i++) {
        coord_site_t *site = coord__site(c, &c->peers[i]);

        if (site != NULL)
            (void) json_object_set_new(eps, c->peers[i].id,
                                       json_real(site->epsilon));
    }
    (void) json_object_set_new(o, "epsilon", eps);
    if (with_metrics && m->valid) {
        (void) json_object_set_new(o, "accuracy", json_real(m->accuracy));
        (void) json_object_set_new(o, "loss", json_real(m->loss));
        if (m->has_auroc)
            (void) json_object_set_new(o, "auroc", json_real(m->auroc));
    }
    s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    if (s != NULL)
        (void) fprintf(c->progress, "%s\n", s);
    free(s);
    json_decref(o);
}

void
coord__print_round(coord_t *c, int with_metrics)
{
    peer_metrics_t m;

    (void) overall_metrics(c, &m);
    if (c->json) {
        print_round_json(c, &m, with_metrics);
    } else {
        (void) fprintf(c->progress, "round %3u/%u  nodes %u/%u", c->rounds_done,
                       c->job.rounds, c->round_updates, c->round_asked);
        if (with_metrics && m.valid) {
            (void) fprintf(c->progress, "  acc %.3f  loss %.3f", m.accuracy,
                           m.loss);
            if (m.has_auroc)
                (void) fprintf(c->progress, "  auroc %.3f", m.auroc);
        }
        (void) fprintf(c->progress, "  eps");
        for (size_t i = 0; i < c->n_peers; i++) {
            coord_site_t *s = coord__site(c, &c->peers[i]);

            if (s != NULL)
                (void) fprintf(c->progress, " %s=%.3f", c->peers[i].id,
                               s->epsilon);
        }
        (void) fprintf(c->progress, "  %.2fs\n", c->round_seconds);
    }
    (void) fflush(c->progress);
    if (c->on_round != NULL)
        c->on_round(c->on_round_ctx, c, with_metrics);
}

void
coord_site_view(const coord_t *c, size_t i, coord_site_view_t *out)
{
    const coord_peer_t *p = &c->peers[i];
    const coord_site_t *s =
        p->budget_idx < 0 ? NULL : &c->budget.sites[p->budget_idx];

    memset(out, 0, sizeof *out);
    out->id = p->id;
    out->accepted = p->job == PEER_ACCEPTED;
    out->live = p->live;
    out->rounds_joined = p->updates_accepted;
    if (s != NULL) {
        out->exhausted = s->exhausted;
        out->rounds_charged = s->rounds_charged;
        out->records = s->records;
        out->epsilon = s->epsilon;
        out->epsilon_max = s->epsilon_max;
        out->delta = s->delta;
    }
    out->has_metrics = p->metrics.valid;
    out->n_heldout = p->metrics.n;
    out->accuracy = p->metrics.accuracy;
    out->loss = p->metrics.loss;
    out->has_auroc = p->metrics.has_auroc;
    out->auroc = p->metrics.auroc;
}

void
coord_round_view(const coord_t *c, coord_round_view_t *out)
{
    peer_metrics_t m;

    memset(out, 0, sizeof *out);
    out->round = c->rounds_done;
    out->rounds = c->job.rounds;
    out->asked = c->round_asked;
    out->updates = c->round_updates;
    out->seconds = c->round_seconds;
    out->has_metrics = overall_metrics(c, &m);
    out->n_heldout = m.n;
    out->accuracy = m.accuracy;
    out->loss = m.loss;
    out->has_auroc = m.has_auroc;
    out->auroc = m.auroc;
}

const float *
coord_model(const coord_t *c, size_t *dim)
{
    *dim = c->dim;
    return c->model;
}

double
coord_noise_multiplier(const coord_t *c)
{
    return c->job.noise_multiplier;
}

static void
summary_json(coord_t *c, const peer_metrics_t *all)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "event", "summary",
                          "job", c->job.name, "job_hash", c->job.hash_hex,
                          "rounds_done", (json_int_t) c->rounds_done, "reason",
                          c->end_reason, "model", c->model_path);
    json_t *sites = json_array();
    char *s;

    for (size_t i = 0; i < c->n_peers; i++) {
        const coord_peer_t *p = &c->peers[i];
        coord_site_t *site = coord__site(c, p);
        json_t *e = json_pack("{s:s, s:I}", "site", p->id, "rounds_joined",
                              (json_int_t) p->updates_accepted);

        if (site != NULL) {
            (void) json_object_set_new(e, "epsilon", json_real(site->epsilon));
            (void) json_object_set_new(e, "delta", json_real(site->delta));
            (void) json_object_set_new(
                e, "records", json_integer((json_int_t) site->records));
        }
        if (p->metrics.valid) {
            (void) json_object_set_new(e, "accuracy",
                                       json_real(p->metrics.accuracy));
            (void) json_object_set_new(e, "loss", json_real(p->metrics.loss));
            if (p->metrics.has_auroc)
                (void) json_object_set_new(e, "auroc",
                                           json_real(p->metrics.auroc));
        }
        (void) json_array_append_new(sites, e);
    }
    (void) json_object_set_new(o, "sites", sites);
    if (all->valid) {
        (void) json_object_set_new(o, "accuracy", json_real(all->accuracy));
        (void) json_object_set_new(o, "loss", json_real(all->loss));
        if (all->has_auroc)
            (void) json_object_set_new(o, "auroc", json_real(all->auroc));
    }
    s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    if (s != NULL)
        (void) fprintf(c->progress, "%s\n", s);
    free(s);
    json_decref(o);
}

static void
summary_text(coord_t *c, const peer_metrics_t *all)
{
    FILE *f = c->progress;

    (void) fprintf(f, "\njob %s finished after %u rounds: %s\n", c->job.name,
                   c->rounds_done, c->end_reason);
    (void) fprintf(f, "%-16s %7s %8s %9s %8s %9s %8s %8s\n", "hospital",
                   "rounds", "records", "epsilon", "delta", "accuracy", "auroc",
                   "loss");
    for (size_t i = 0; i < c->n_peers; i++) {
        const coord_peer_t *p = &c->peers[i];
        coord_site_t *s = coord__site(c, p);

        (void) fprintf(f, "%-16s %7u", p->id, p->updates_accepted);
        if (s != NULL)
            (void) fprintf(f, " %8llu %9.4f %8.1e",
                           (unsigned long long) s->records, s->epsilon,
                           s->delta);
        else
            (void) fprintf(f, " %8s %9s %8s", "-", "-",
                           p->job == PEER_DECLINED ? "declined" : "-");
        if (p->metrics.valid)
            (void) fprintf(f, " %9.4f %8.4f %8.4f", p->metrics.accuracy,
                           p->metrics.has_auroc ? p->metrics.auroc : 0.0,
                           p->metrics.loss);
        (void) fprintf(f, "\n");
    }
    if (all->valid)
        (void) fprintf(f, "%-16s %7s %8llu %9s %8s %9.4f %8.4f %8.4f\n",
                       "all (held-out)", "", (unsigned long long) all->n, "",
                       "", all->accuracy, all->has_auroc ? all->auroc : 0.0,
                       all->loss);
    (void) fprintf(f, "final model: %s\n", c->model_path);
}

void
coord__print_summary(coord_t *c)
{
    peer_metrics_t all;

    (void) overall_metrics(c, &all);
    if (c->json)
        summary_json(c, &all);
    else
        summary_text(c, &all);
    (void) fflush(c->progress);
}
