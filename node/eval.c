/*
 * node/eval.c: loss, accuracy, AUROC and confusion counts (see eval.h).
 */
#include "node/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "node/mlp.h"

#define EVAL_CHUNK 256

/* Score and label of one example, sorted by score for the AUROC. */
typedef struct scored {
    float score;
    int32_t label;
    uint32_t group;
} scored_t;

static int
cmp_scored(const void *a, const void *b)
{
    float x = ((const scored_t *) a)->score;
    float y = ((const scored_t *) b)->score;

    return (x > y) - (x < y);
}

/*
 * Mann-Whitney AUROC over the sorted examples whose group is g (or all,
 * g < 0): positives' mean rank among the filtered examples, ties averaged.
 */
static double
auroc_sorted(const scored_t *s, size_t n, long g)
{
    double rank_sum = 0.0;
    double npos = 0.0;
    double nneg = 0.0;
    double seen = 0.0;
    size_t i = 0;

    while (i < n) {
        size_t j = i;
        double cnt = 0.0;
        double pos = 0.0;

        while (j < n && s[j].score == s[i].score) {
            if (g < 0 || s[j].group == (uint32_t) g) {
                cnt += 1.0;
                pos += s[j].label == 1 ? 1.0 : 0.0;
            }
            j++;
        }
        /* The tie block occupies ranks seen+1 .. seen+cnt: mean rank. */
        rank_sum += pos * (seen + (cnt + 1.0) / 2.0);
        npos += pos;
        nneg += cnt - pos;
        seen += cnt;
        i = j;
    }
    if (npos == 0.0 || nneg == 0.0) {
        return NAN;
    }
    return (rank_sum - npos * (npos + 1.0) / 2.0) / (npos * nneg);
}

fl_err_t
node_eval_auroc(const float *scores, const int32_t *labels, size_t n,
                double *auroc, fl_errbuf_t *eb)
{
    scored_t *s = malloc((n > 0 ? n : 1) * sizeof(*s));

    if (s == NULL) {
        return fl_fail(eb, FL_ERR_NOMEM, "auroc: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        s[i].score = scores[i];
        s[i].label = labels[i];
        s[i].group = 0;
    }
    qsort(s, n, sizeof(*s), cmp_scored);
    *auroc = auroc_sorted(s, n, -1);
    free(s);
    return FL_OK;
}

static fl_err_t
metrics_init(node_metrics_t *m, uint32_t k)
{
    memset(m, 0, sizeof(*m));
    m->n_classes = k;
    m->confusion = calloc((size_t) k * k, sizeof(uint64_t));
    return m->confusion != NULL ? FL_OK : FL_ERR_NOMEM;
}

void
node_eval_report_cleanup(node_eval_report_t *report)
{
    if (report == NULL) {
        return;
    }
    free(report->overall.confusion);
    for (size_t g = 0; g < report->n_groups && report->groups != NULL; g++) {
        free(report->groups[g].confusion);
    }
    free(report->groups);
    memset(report, 0, sizeof(*report));
}

/* Adds one example; loss holds the running sum until finish(). */
static void
metrics_add(node_metrics_t *m, int32_t y, size_t pred, double loss)
{
    m->n++;
    m->loss += loss;
    m->accuracy += (size_t) y == pred ? 1.0 : 0.0;
    m->confusion[(size_t) y * m->n_classes + pred]++;
}

static void
metrics_finish(node_metrics_t *m, const scored_t *sorted, size_t n, long g)
{
    if (m->n == 0) {
        m->loss = NAN;
        m->accuracy = NAN;
    } else {
        m->loss /= (double) m->n;
        m->accuracy /= (double) m->n;
    }
    m->auroc = sorted != NULL ? auroc_sorted(sorted, n, g) : NAN;
}

static fl_err_t
report_init(node_eval_report_t *r, uint32_t k, size_t n_groups)
{
    memset(r, 0, sizeof(*r));
    if (metrics_init(&r->overall, k) != FL_OK) {
        return FL_ERR_NOMEM;
    }
    if (n_groups == 0) {
        return FL_OK;
    }
    r->groups = calloc(n_groups, sizeof(*r->groups));
    if (r->groups == NULL) {
        return FL_ERR_NOMEM;
    }
    r->n_groups = n_groups;
    for (size_t g = 0; g < n_groups; g++) {
        if (metrics_init(&r->groups[g], k) != FL_OK) {
            return FL_ERR_NOMEM;
        }
    }
    return FL_OK;
}

/* Runs the model over ds in chunks, filling the counts and scores. */
static void
eval_rows(node_mlp_t *ws, const float *params, const node_dataset_t *ds,
          node_eval_report_t *r, scored_t *sc, float *loss)
{
    size_t rows = node_dataset_rows(ds);
    size_t d = node_dataset_n_features(ds);
    size_t k = node_dataset_n_classes(ds);
    const float *x = node_dataset_features(ds);
    const int32_t *y = node_dataset_labels(ds);
    const uint32_t *grp = node_dataset_groups(ds);
    size_t ld = node_mlp_input_ld(ws);

    for (size_t base = 0; base < rows; base += EVAL_CHUNK) {
        size_t n = rows - base < EVAL_CHUNK ? rows - base : EVAL_CHUNK;
        const float *p;

        for (size_t i = 0; i < n; i++) {
            memcpy(node_mlp_input(ws) + i * ld, x + (base + i) * d,
                   d * sizeof(float));
        }
        node_mlp_forward(ws, params, n, 0);
        (void) node_mlp_loss(ws, y + base, n, 0, loss);
        p = node_mlp_probs(ws);
        for (size_t i = 0; i < n; i++) {
            const float *pi = p + i * k;
            size_t pred = 0;
            size_t row = base + i;

            for (size_t j = 1; j < k; j++) {
                pred = pi[j] > pi[pred] ? j : pred;
            }
            metrics_add(&r->overall, y[row], pred, loss[i]);
            if (grp != NULL) {
                metrics_add(&r->groups[grp[row]], y[row], pred, loss[i]);
            }
            sc[row].score = k == 2 ? pi[1] : 0.0f;
            sc[row].label = y[row];
            sc[row].group = grp != NULL ? grp[row] : 0;
        }
    }
}

fl_err_t
node_eval_run(const node_model_t *model, const float *params,
              const node_dataset_t *ds, node_eval_report_t *report,
              fl_errbuf_t *eb)
{
    node_mlp_t *ws = NULL;
    scored_t *sc = NULL;
    float loss[EVAL_CHUNK];
    size_t rows = node_dataset_rows(ds);
    uint32_t k = node_dataset_n_classes(ds);
    fl_err_t err;

    memset(report, 0, sizeof(*report));
    if (node_dataset_n_features(ds) != node_model_n_inputs(model) ||
        k != node_model_n_classes(model)) {
        return fl_fail(eb, FL_ERR_INVALID,
                       "eval: dataset has %zu features and %u classes, model "
                       "%zu and %zu",
                       node_dataset_n_features(ds), k,
                       node_model_n_inputs(model), node_model_n_classes(model));
    }
    err = node_mlp_new(model, EVAL_CHUNK, &ws, eb);
    if (err != FL_OK) {
        return err;
    }
    sc = malloc((rows > 0 ? rows : 1) * sizeof(*sc));
    if (sc == NULL ||
        report_init(report, k, node_dataset_n_groups(ds)) != FL_OK) {
        err = fl_fail(eb, FL_ERR_NOMEM, "eval: out of memory");
        goto out;
    }
    eval_rows(ws, params, ds, report, sc, loss);
    if (k == 2) {
        qsort(sc, rows, sizeof(*sc), cmp_scored);
    }
    metrics_finish(&report->overall, k == 2 ? sc : NULL, rows, -1);
    for (size_t g = 0; g < report->n_groups; g++) {
        metrics_finish(&report->groups[g], k == 2 ? sc : NULL, rows, (long) g);
    }
out:
    if (err != FL_OK) {
        node_eval_report_cleanup(report);
    }
    free(sc);
    node_mlp_destroy(&ws);
    return err;
}
