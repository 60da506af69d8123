/* sim/report.c: CSV, JSON and text output of a simulation. */
#include "sim/report.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

static const char *
byz_name(int b)
{
    return b == NODE_BYZ_SCALED   ? "scaled"
           : b == NODE_BYZ_RANDOM ? "random"
                                  : "";
}

/* NaN and infinities are not JSON: null. */
static json_t *
num(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *
round_json(const sim_round_t *r)
{
    json_t *o = json_pack(
        "{s:I, s:I, s:I, s:o, s:o, s:o, s:o}", "round", (json_int_t) r->round,
        "asked", (json_int_t) r->asked, "updates", (json_int_t) r->updates,
        "seconds", num(r->seconds), "cpu_seconds", num(r->cpu_seconds),
        "epsilon_max", num(r->eps_max), "epsilon_mean", num(r->eps_mean));

    if (o != NULL && r->has_metrics) {
        (void) json_object_set_new(o, "accuracy", num(r->accuracy));
        (void) json_object_set_new(o, "loss", num(r->loss));
        (void) json_object_set_new(o, "heldout",
                                   json_integer((json_int_t) r->n_heldout));
    }
    return o;
}

static json_t *
node_json(const sim_node_t *n)
{
    json_t *o = json_pack(
        "{s:s, s:I, s:I, s:b, s:s, s:I, s:I, s:o, s:o, s:b}", "id", n->id,
        "rows", (json_int_t) n->rows, "records", (json_int_t) n->records,
        "accepted", n->accepted, "byzantine", byz_name(n->byzantine),
        "rounds_joined", (json_int_t) n->rounds_joined, "rounds_charged",
        (json_int_t) n->rounds_charged, "epsilon", num(n->epsilon),
        "epsilon_max", num(n->epsilon_max), "exhausted", n->exhausted);

    if (o != NULL && n->has_metrics) {
        (void) json_object_set_new(o, "accuracy", num(n->accuracy));
        (void) json_object_set_new(o, "heldout",
                                   json_integer((json_int_t) n->n_heldout));
    }
    return o;
}

static json_t *
risk_json(const sim_result_t *r)
{
    json_t *mia = json_array(), *rero = json_array();

    for (int i = 0; i < DP_RISK_N_FPR; i++)
        (void) json_array_append_new(
            mia, json_pack("{s:o, s:o, s:b}", "fpr", num(r->risk.mia[i].at),
                           "tpr_bound", num(r->risk.mia[i].bound), "rigorous",
                           r->risk.mia[i].rigorous));
    for (int i = 0; i < DP_RISK_N_PRIOR; i++)
        (void) json_array_append_new(
            rero, json_pack("{s:o, s:o, s:b}", "prior", num(r->risk.rero[i].at),
                            "success_bound", num(r->risk.rero[i].bound),
                            "rigorous", r->risk.rero[i].rigorous));
    return json_pack("{s:o, s:b, s:o, s:o, s:o}", "mu", num(r->risk.mu),
                     "mu_exact", r->risk.mu_exact, "epsilon", num(r->risk.eps),
                     "membership_inference", mia, "reconstruction", rero);
}

static json_t *
summary_json(const sim_result_t *r)
{
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:o, s:I, s:s, s:s, s:I, s:I, "
        "s:I, s:I, s:o, s:o, s:o, s:I, s:o, s:o, s:I}",
        "generator", "seeded (reproducible, not for production)", "job",
        r->job_name, "job_hash", r->job_hash, "seed", (json_int_t) r->seed,
        "partition", r->partition, "nodes", (json_int_t) r->n_nodes, "rows",
        (json_int_t) r->n_rows, "label_skew", num(r->label_skew), "declined",
        (json_int_t) r->n_declined, "aggregator", r->aggregator, "transport",
        r->transport, "rounds", (json_int_t) r->n_rounds, "rounds_planned",
        (json_int_t) r->rounds_planned, "batch_size",
        (json_int_t) r->batch_size, "local_steps", (json_int_t) r->local_steps,
        "noise_multiplier", num(r->sigma), "delta", num(r->delta),
        "target_epsilon", num(r->target_epsilon), "calibration_records",
        (json_int_t) r->calibration_records, "drop_rate", num(r->drop_rate),
        "straggle_rate", num(r->straggle_rate), "byzantine",
        (json_int_t) r->n_byzantine);

    if (o == NULL)
        return NULL;
    (void) json_object_set_new(o, "model_sha256", json_string(r->model_sha256));
    (void) json_object_set_new(o, "final_accuracy",
                               r->has_final ? num(r->final_accuracy)
                                            : json_null());
    (void) json_object_set_new(o, "final_loss",
                               r->has_final ? num(r->final_loss) : json_null());
    (void) json_object_set_new(o, "epsilon_max", num(r->eps_max));
    (void) json_object_set_new(
        o, "epsilon_max_node",
        json_string(r->n_nodes ? r->nodes[r->eps_max_node].id : ""));
    (void) json_object_set_new(o, "risk",
                               r->has_risk ? risk_json(r) : json_null());
    (void) json_object_set_new(
        o, "cost",
        json_pack("{s:o, s:o, s:o, s:o, s:o, s:I}", "setup_seconds",
                  num(r->setup_seconds), "pki_seconds", num(r->pki_seconds),
                  "run_seconds", num(r->run_seconds), "seconds_per_round",
                  num(r->seconds_per_round), "cpu_seconds_per_round",
                  num(r->cpu_seconds_per_round), "peak_rss_kb",
                  (json_int_t) r->peak_rss_kb));
    return o;
}

fl_err_t
sim_report_json(const sim_result_t *r, FILE *f, fl_errbuf_t *eb)
{
    json_t *o = summary_json(r);
    int rc;

    if (o == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "summary: out of memory");
    rc = json_dumpf(o, f, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(o);
    if (rc != 0 || fputc('\n', f) == EOF)
        return fl_fail(eb, FL_ERR_IO, "summary: write failed");
    return FL_OK;
}

void
sim_report_text(const sim_result_t *r, FILE *f)
{
    (void) fprintf(f,
                   "dpfl-sim: %zu hospitals (%s, label skew %.3f, %zu "
                   "declined), job %s, aggregator %s, %s\n",
                   r->n_nodes, r->partition, r->label_skew, r->n_declined,
                   r->job_name, r->aggregator, r->transport);
    (void) fprintf(f,
                   "generator: SEEDED (seed %llu): reproducible, NOT for "
                   "production\n",
                   (unsigned long long) r->seed);
    if (r->has_final)
        (void) fprintf(f, "rounds %zu/%u, final held-out accuracy %.4f\n",
                       r->n_rounds, r->rounds_planned, r->final_accuracy);
    else
        (void) fprintf(f, "rounds %zu/%u, no held-out evaluation\n",
                       r->n_rounds, r->rounds_planned);
    (void) fprintf(f,
                   "privacy: epsilon max %.4f (%s) at delta %g, sigma %.4f, "
                   "target %g for %llu records\n",
                   r->eps_max, r->n_nodes ? r->nodes[r->eps_max_node].id : "",
                   r->delta, r->sigma, r->target_epsilon,
                   (unsigned long long) r->calibration_records);
    if (r->has_risk)
        (void) fprintf(f,
                       "risk: membership-inference TPR <= %.4f at FPR %g; "
                       "reconstruction success <= %.4g at prior %g\n",
                       r->risk.mia[1].bound, r->risk.mia[1].at,
                       r->risk.rero[1].bound, r->risk.rero[1].at);
    (void) fprintf(f, "model sha256 %s\n", r->model_sha256);
    (void) fprintf(f,
                   "cost: setup %.2f s (PKI %.2f s), %.3f s/round (CPU %.3f "
                   "s/round), peak RSS %.1f MB\n",
                   r->setup_seconds, r->pki_seconds, r->seconds_per_round,
                   r->cpu_seconds_per_round, (double) r->peak_rss_kb / 1024.0);
}

static FILE *
open_in(const char *dir, const char *name, char *path, size_t len)
{
    (void) snprintf(path, len, "%s/%s", dir, name);
    return fopen(path, "w");
}

static int
close_ok(FILE *f)
{
    int bad = ferror(f);

    return fclose(f) == 0 && !bad;
}

static fl_err_t
write_json_file(const char *dir, const char *name, json_t *o, fl_errbuf_t *eb)
{
    char path[PATH_MAX];
    FILE *f;
    int ok;

    if (o == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "%s: out of memory", name);
    f = open_in(dir, name, path, sizeof path);
    ok = f != NULL &&
         json_dumpf(o, f, JSON_INDENT(1) | JSON_REAL_PRECISION(10)) == 0;
    if (f != NULL)
        ok = fputc('\n', f) != EOF && close_ok(f) && ok;
    json_decref(o);
    return ok ? FL_OK : fl_fail(eb, FL_ERR_IO, "%s: write failed", path);
}

static void
csv_opt(FILE *f, int has, double x)
{
    if (has)
        (void) fprintf(f, ",%.6f", x);
    else
        (void) fputs(",", f);
}

static fl_err_t
write_csvs(const sim_result_t *r, const char *dir, fl_errbuf_t *eb)
{
    char path[PATH_MAX];
    FILE *f = open_in(dir, "rounds.csv", path, sizeof path);

    if (f == NULL)
        return fl_fail(eb, FL_ERR_IO, "%s: %s", path, strerror(errno));
    (void) fprintf(f, "round,asked,updates,seconds,cpu_seconds,epsilon_max,"
                      "epsilon_mean,accuracy,loss\n");
    for (size_t i = 0; i < r->n_rounds; i++) {
        const sim_round_t *x = &r->rounds[i];

        (void) fprintf(f, "%u,%u,%u,%.4f,%.4f,%.6f,%.6f", x->round, x->asked,
                       x->updates, x->seconds, x->cpu_seconds, x->eps_max,
                       x->eps_mean);
        csv_opt(f, x->has_metrics, x->accuracy);
        csv_opt(f, x->has_metrics, x->loss);
        (void) fputc('\n', f);
    }
    if (!close_ok(f))
        return fl_fail(eb, FL_ERR_IO, "%s: write failed", path);
    if ((f = open_in(dir, "nodes.csv", path, sizeof path)) == NULL)
        return fl_fail(eb, FL_ERR_IO, "%s: %s", path, strerror(errno));
    (void) fprintf(f, "id,rows,records,accepted,byzantine,rounds_joined,"
                      "rounds_charged,epsilon,accuracy\n");
    for (size_t i = 0; i < r->n_nodes; i++) {
        const sim_node_t *n = &r->nodes[i];

        (void) fprintf(f, "%s,%zu,%llu,%d,%s,%u,%u,%.6f", n->id, n->rows,
                       (unsigned long long) n->records, n->accepted,
                       byz_name(n->byzantine), n->rounds_joined,
                       n->rounds_charged, n->epsilon);
        csv_opt(f, n->has_metrics, n->accuracy);
        (void) fputc('\n', f);
    }
    if (!close_ok(f))
        return fl_fail(eb, FL_ERR_IO, "%s: write failed", path);
    if ((f = open_in(dir, "node_epsilon.csv", path, sizeof path)) == NULL)
        return fl_fail(eb, FL_ERR_IO, "%s: %s", path, strerror(errno));
    (void) fprintf(f, "round,id,epsilon\n");
    for (size_t k = 0; k < r->n_rounds; k++)
        for (size_t i = 0; i < r->n_nodes; i++)
            (void) fprintf(f, "%u,%s,%.6f\n", r->rounds[k].round,
                           r->nodes[i].id, r->epsilon[k * r->n_nodes + i]);
    if (!close_ok(f))
        return fl_fail(eb, FL_ERR_IO, "%s: write failed", path);
    return FL_OK;
}

fl_err_t
sim_report_write(const sim_result_t *r, const char *dir, fl_errbuf_t *eb)
{
    json_t *rounds = json_array(), *nodes = json_array();
    char path[PATH_MAX];
    FILE *f;
    fl_err_t err;

    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        json_decref(rounds);
        json_decref(nodes);
        return fl_fail(eb, FL_ERR_IO, "%s: %s", dir, strerror(errno));
    }
    for (size_t i = 0; rounds != NULL && i < r->n_rounds; i++)
        (void) json_array_append_new(rounds, round_json(&r->rounds[i]));
    for (size_t i = 0; nodes != NULL && i < r->n_nodes; i++)
        (void) json_array_append_new(nodes, node_json(&r->nodes[i]));
    err = write_json_file(dir, "rounds.json", rounds, eb);
    if (err == FL_OK)
        err = write_json_file(dir, "nodes.json", nodes, eb);
    else
        json_decref(nodes);
    if (err == FL_OK)
        err = write_json_file(dir, "summary.json", summary_json(r), eb);
    if (err == FL_OK)
        err = write_csvs(r, dir, eb);
    if (err != FL_OK)
        return err;
    f = open_in(dir, "report.html", path, sizeof path);
    if (f == NULL)
        return fl_fail(eb, FL_ERR_IO, "%s: %s", path, strerror(errno));
    err = sim_report_html(r, f, eb);
    if (!close_ok(f) && err == FL_OK)
        err = fl_fail(eb, FL_ERR_IO, "%s: write failed", path);
    return err;
}
