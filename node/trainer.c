/*
 * node/trainer.c: Poisson-sampled DP-SGD and non-private SGD on the MLP
 * engine (see trainer.h).
 */
#include "node/trainer.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "node/mlp.h"
#include "privacy/mechanism.h"

struct node_trainer {
    const node_model_t *model;
    node_train_spec_t spec;
    size_t n_rows;
    size_t d;
    size_t n_params;
    size_t chunk;
    double q;
    node_mlp_t *ws;
    float *grad; /* sum of (clipped) gradients, then noise */
    float *m1;   /* momentum or Adam first moment */
    float *m2;   /* Adam second moment */
    uint64_t adam_t;
    size_t *idx; /* sampled row indices of the current chunk */
    int32_t *labels;
    double *sq;
    float *factor;
};

static fl_err_t
check_spec(const node_train_spec_t *s, size_t n_rows, fl_errbuf_t *eb)
{
    const char *bad = NULL;

    if (!(s->lr > 0.0) || !isfinite(s->lr)) {
        bad = "lr must be finite and > 0";
    } else if (s->optimizer != NODE_OPT_SGD && s->optimizer != NODE_OPT_ADAM) {
        bad = "optimizer must be sgd or adam";
    } else if (!(s->momentum >= 0.0 && s->momentum < 1.0)) {
        bad = "momentum must be in [0, 1)";
    } else if (!(s->beta1 >= 0.0 && s->beta1 < 1.0) ||
               !(s->beta2 >= 0.0 && s->beta2 < 1.0)) {
        bad = "adam betas must be in [0, 1)";
    } else if (!(s->adam_eps >= 0.0) || !isfinite(s->adam_eps)) {
        bad = "adam eps must be finite and >= 0";
    } else if (!(s->expected_batch > 0.0) ||
               s->expected_batch > (double) n_rows) {
        bad = "expected batch must be in (0, rows]";
    } else if (s->nonprivate != 0 && s->nonprivate != 1) {
        bad = "nonprivate must be 0 or 1";
    } else if (!s->nonprivate && !(s->clip > 0.0)) {
        bad = "clip must be > 0";
    } else if (!s->nonprivate && (!(s->noise_multiplier >= 0.0) ||
                                  !isfinite(s->noise_multiplier))) {
        bad = "noise multiplier must be finite and >= 0";
    } else if (!s->nonprivate && isinf(s->clip) && s->noise_multiplier > 0) {
        bad = "an infinite clip needs noise multiplier 0";
    }
    if (bad != NULL) {
        return fl_fail(eb, FL_ERR_INVALID, "train spec: %s", bad);
    }
    return FL_OK;
}

void
node_trainer_destroy(node_trainer_t **t_p)
{
    node_trainer_t *t;

    if (t_p == NULL || *t_p == NULL) {
        return;
    }
    t = *t_p;
    node_mlp_destroy(&t->ws);
    free(t->grad);
    free(t->m1);
    free(t->m2);
    free(t->idx);
    free(t->labels);
    free(t->sq);
    free(t->factor);
    free(t);
    *t_p = NULL;
}

fl_err_t
node_trainer_new(const node_model_t *model, const node_train_spec_t *spec,
                 size_t n_rows, node_trainer_t **out, fl_errbuf_t *eb)
{
    node_trainer_t *t = NULL;
    fl_err_t err;
    double want;

    *out = NULL;
    if (model == NULL || spec == NULL || n_rows == 0) {
        return fl_fail(eb, FL_ERR_INVALID, "trainer: no model, spec or rows");
    }
    err = check_spec(spec, n_rows, eb);
    if (err != FL_OK) {
        return err;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return fl_fail(eb, FL_ERR_NOMEM, "trainer: out of memory");
    }
    t->model = model;
    t->spec = *spec;
    if (t->spec.optimizer == NODE_OPT_ADAM && t->spec.beta1 == 0.0 &&
        t->spec.beta2 == 0.0) {
        t->spec.beta1 = 0.9;
        t->spec.beta2 = 0.999;
    }
    if (t->spec.adam_eps == 0.0) {
        t->spec.adam_eps = 1e-8;
    }
    t->n_rows = n_rows;
    t->d = node_model_n_inputs(model);
    t->n_params = node_model_n_params(model);
    t->q = spec->expected_batch / (double) n_rows;
    /* Most Poisson batches fit in one chunk; larger ones take several. */
    want = ceil(1.5 * spec->expected_batch) + 32.0;
    t->chunk = want >= (double) n_rows ? n_rows : (size_t) want;
    if (spec->chunk > 0 && spec->chunk < t->chunk) {
        t->chunk = spec->chunk;
    }
    err = node_mlp_new(model, t->chunk, &t->ws, eb);
    if (err != FL_OK) {
        goto out;
    }
    t->grad = calloc(t->n_params, sizeof(float));
    t->m1 = calloc(t->n_params, sizeof(float));
    t->m2 = spec->optimizer == NODE_OPT_ADAM
                ? calloc(t->n_params, sizeof(float))
                : malloc(1);
    t->idx = calloc(t->chunk, sizeof(size_t));
    t->labels = calloc(t->chunk, sizeof(int32_t));
    t->sq = calloc(t->chunk, sizeof(double));
    t->factor = calloc(t->chunk, sizeof(float));
    if (t->grad == NULL || t->m1 == NULL || t->m2 == NULL || t->idx == NULL ||
        t->labels == NULL || t->sq == NULL || t->factor == NULL) {
        err = fl_fail(eb, FL_ERR_NOMEM, "trainer: out of memory");
    }
out:
    if (err != FL_OK) {
        node_trainer_destroy(&t);
    }
    *out = t;
    return err;
}

void
node_trainer_reset(node_trainer_t *t)
{
    memset(t->m1, 0, t->n_params * sizeof(float));
    if (t->spec.optimizer == NODE_OPT_ADAM) {
        memset(t->m2, 0, t->n_params * sizeof(float));
    }
    t->adam_t = 0;
}

double
node_trainer_sampling_rate(const node_trainer_t *t)
{
    return t->q;
}

size_t
node_trainer_chunk(const node_trainer_t *t)
{
    return t->chunk;
}

/*
 * The Poisson sampler: the gap to the next sampled row is geometric,
 * P(gap = k) = (1 - q)^k q, which is the same process as one independent
 * Bernoulli(q) draw per row, at one uniform draw per sampled row.
 */
typedef struct sampler {
    dp_rng_t *rng;
    double log1mq; /* log(1 - q); 0 when q == 1 */
    size_t next;   /* next sampled row; >= n_rows when done */
    size_t n_rows;
} sampler_t;

static size_t
sampler_gap(sampler_t *s)
{
    double g;

    if (s->log1mq == 0.0) {
        return 0;
    }
    g = floor(log(dp_rng_uniform(s->rng)) / s->log1mq);
    return g >= (double) s->n_rows ? s->n_rows : (size_t) g;
}

static void
sampler_start(sampler_t *s, dp_rng_t *rng, double q, size_t n_rows)
{
    s->rng = rng;
    s->n_rows = n_rows;
    s->log1mq = q >= 1.0 ? 0.0 : log1p(-q);
    s->next = sampler_gap(s);
}

/* Fills up to cap indices; returns how many. */
static size_t
sampler_fill(sampler_t *s, size_t *idx, size_t cap)
{
    size_t n = 0;

    while (n < cap && s->next < s->n_rows) {
        idx[n++] = s->next;
        s->next += 1 + sampler_gap(s);
    }
    return n;
}

/* Copies the sampled rows into the workspace. */
static void
gather(node_trainer_t *t, const node_dataset_t *ds, size_t n)
{
    const float *x = node_dataset_features(ds);
    const int32_t *y = node_dataset_labels(ds);
    const float *sqn = node_dataset_sqnorms(ds);
    float *in = node_mlp_input(t->ws);
    float *in_sq = node_mlp_input_sqnorm(t->ws);
    size_t ld = node_mlp_input_ld(t->ws);

    for (size_t i = 0; i < n; i++) {
        size_t r = t->idx[i];

        memcpy(in + i * ld, x + r * t->d, t->d * sizeof(float));
        in_sq[i] = sqn[r];
        t->labels[i] = y[r];
    }
}

/* Adds one chunk's (clipped) gradient sum into t->grad. */
static void
chunk_grad(node_trainer_t *t, const float *params, size_t n, float beta)
{
    int dp = !t->spec.nonprivate;
    int clip = dp && !isinf(t->spec.clip);

    node_mlp_forward(t->ws, params, n, clip);
    (void) node_mlp_loss(t->ws, t->labels, n, clip, NULL);
    node_mlp_backward(t->ws, params, n, clip);
    if (clip) {
        node_mlp_example_sqnorms(t->ws, n, t->sq);
        for (size_t i = 0; i < n; i++)
            t->factor[i] = (float) dp_clip_factor(sqrt(t->sq[i]), t->spec.clip);
    }
    node_mlp_grad_sum(t->ws, n, clip ? t->factor : NULL, beta, t->grad);
}

/*
 * v = momentum v + scale g; p -= lr v. Through BLAS level 1 because these
 * loops run over every parameter each step and the compiler does not
 * vectorise them at -O2.
 */
static void
sgd_update(node_trainer_t *t, float *p, float scale)
{
    int n = (int) t->n_params;
    float mu = (float) t->spec.momentum;
    float lr = (float) t->spec.lr;

    if (mu == 0.0f) {
        cblas_saxpy(n, -lr * scale, t->grad, 1, p, 1);
        return;
    }
    cblas_sscal(n, mu, t->m1, 1);
    cblas_saxpy(n, scale, t->grad, 1, t->m1, 1);
    cblas_saxpy(n, -lr, t->m1, 1, p, 1);
}

static void
adam_update(node_trainer_t *t, float *restrict p, float scale)
{
    float *restrict m = t->m1;
    float *restrict v = t->m2;
    const float *restrict g = t->grad;
    double b1 = t->spec.beta1;
    double b2 = t->spec.beta2;
    float fb1 = (float) b1;
    float fb2 = (float) b2;
    float step;
    float c2;
    float eps = (float) t->spec.adam_eps;

    t->adam_t++;
    step = (float) (t->spec.lr / (1.0 - pow(b1, (double) t->adam_t)));
    c2 = (float) (1.0 / sqrt(1.0 - pow(b2, (double) t->adam_t)));
    for (size_t i = 0; i < t->n_params; i++) {
        float gi = scale * g[i];

        m[i] = fb1 * m[i] + (1.0f - fb1) * gi;
        v[i] = fb2 * v[i] + (1.0f - fb2) * gi * gi;
        p[i] -= step * m[i] / (sqrtf(v[i]) * c2 + eps);
    }
}

/* One step: sample, (clipped) gradient sum, noise, divide by B, update. */
static void
one_step(node_trainer_t *t, float *params, const node_dataset_t *ds,
         dp_rng_t *rng, node_train_stats_t *st)
{
    sampler_t s;
    float beta = 0.0f;
    size_t n;
    float scale = (float) (1.0 / t->spec.expected_batch);

    sampler_start(&s, rng, t->q, t->n_rows);
    while ((n = sampler_fill(&s, t->idx, t->chunk)) > 0) {
        gather(t, ds, n);
        chunk_grad(t, params, n, beta);
        beta = 1.0f;
        st->examples += n;
    }
    if (beta == 0.0f) {
        /* Empty batch: the sum is zero, and it still gets noise. */
        memset(t->grad, 0, t->n_params * sizeof(float));
    }
    if (!t->spec.nonprivate && t->spec.noise_multiplier > 0.0) {
        int64_t t0 = fl_clock_mono_ns();

        dp_noise_add_gaussian(rng, t->grad, t->n_params,
                              t->spec.noise_multiplier * t->spec.clip);
        st->noise_ns += fl_clock_mono_ns() - t0;
    }
    if (t->spec.optimizer == NODE_OPT_ADAM) {
        adam_update(t, params, scale);
    } else {
        sgd_update(t, params, scale);
    }
    st->steps++;
}

fl_err_t
node_trainer_run_steps(node_trainer_t *t, float *params,
                       const node_dataset_t *ds, dp_rng_t *rng, uint64_t steps,
                       node_train_stats_t *stats, fl_errbuf_t *eb)
{
    node_train_stats_t st = {0, 0, 0};

    if (params == NULL || ds == NULL || rng == NULL) {
        return fl_fail(eb, FL_ERR_INVALID, "trainer: missing argument");
    }
    if (node_dataset_rows(ds) != t->n_rows ||
        node_dataset_n_features(ds) != t->d ||
        node_dataset_n_classes(ds) != node_model_n_classes(t->model)) {
        return fl_fail(eb, FL_ERR_INVALID,
                       "trainer: dataset %zu rows x %zu features, %u "
                       "classes; trainer expects %zu x %zu, %zu",
                       node_dataset_rows(ds), node_dataset_n_features(ds),
                       node_dataset_n_classes(ds), t->n_rows, t->d,
                       node_model_n_classes(t->model));
    }
    for (uint64_t k = 0; k < steps; k++) {
        one_step(t, params, ds, rng, &st);
    }
    if (stats != NULL) {
        *stats = st;
    }
    for (size_t i = 0; i < t->n_params; i++) {
        if (!isfinite(params[i])) {
            return fl_fail(eb, FL_ERR_NUMERIC,
                           "trainer: parameter %zu is not finite", i);
        }
    }
    return FL_OK;
}
