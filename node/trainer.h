/*
 * node/trainer.h: local training, DP-SGD by default.
 *
 * One step of DP-SGD (Abadi et al. 2016, with true Poisson sampling):
 *   1. every training example joins the batch independently with
 *      probability q = B / N (B: expected batch size, N: the dataset's
 *      rows); the batch size varies and may be 0;
 *   2. per-example gradient norms from each layer's inputs and output
 *      gradients (ghost norms, see mlp.h), no per-example gradient stored;
 *   3. factor c_i = min(1, C / |g_i|) (dp_clip_factor, privacy/
 *      mechanism.h, with its rounding margin); the clipped sum per layer is one
 *      GEMM [A, 1]^T diag(c) G;
 *   4. Gaussian noise N(0, sigma^2 C^2) on every coordinate of the SUM,
 *      drawn from privacy/'s generator (an empty batch still gets noise);
 *   5. divide by B (the expected, not the realised, batch size) and take
 *      an optimiser step (SGD with momentum, or Adam).
 * Only the sampled rows are read. A batch larger than the workspace is
 * processed in chunks, never truncated (truncation would change the
 * privacy analysis).
 *
 * Non-private training (no clipping, no noise; same Poisson batches,
 * same division by B) happens only when the spec says nonprivate = 1.
 *
 * The trainer works on the caller's flat parameter vector (model.h), so a
 * daemon loads the global model, runs local steps, and takes the new
 * parameters or their difference. Privacy accounting is not done here: the
 * caller accounts for (q, sigma, steps) with privacy/ before releasing.
 *
 * Ownership: node_trainer_new() returns a trainer the caller frees with
 * node_trainer_destroy(); the model must outlive it. Not thread-safe.
 */
#ifndef NODE_TRAINER_H
#define NODE_TRAINER_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "node/data.h"
#include "node/model.h"
#include "privacy/rng.h"

typedef enum node_optimizer {
    NODE_OPT_SGD = 0, /* v = momentum v + g; p -= lr v */
    NODE_OPT_ADAM = 1 /* Kingma and Ba, with bias correction */
} node_optimizer_t;

typedef struct node_train_spec {
    node_optimizer_t optimizer;
    double lr;               /* > 0 */
    double momentum;         /* SGD, in [0, 1) */
    double beta1, beta2;     /* Adam, in [0, 1); 0 and 0 take 0.9, 0.999 */
    double adam_eps;         /* Adam, > 0; 0 takes 1e-8 */
    double clip;             /* C > 0; +INFINITY (no clipping) only with
                                noise_multiplier 0, for tests */
    double noise_multiplier; /* sigma >= 0 */
    double expected_batch;   /* B in (0, N] */
    int nonprivate;          /* 1: no clipping, no noise. Explicit only. */
    size_t chunk;            /* examples processed at once (memory bound);
                                0: min(N, 1.5 B + 32) */
} node_train_spec_t;

/* Per-run figures; noise_ns is the time spent drawing and adding noise. */
typedef struct node_train_stats {
    uint64_t steps;
    uint64_t examples; /* sum of the realised batch sizes */
    int64_t noise_ns;
} node_train_stats_t;

typedef struct node_trainer node_trainer_t;

/*
 * Creates a trainer for a dataset of n_rows (N >= 1) rows. Validates the
 * spec (FL_ERR_INVALID naming the field) and allocates every buffer once:
 * a workspace for spec->chunk examples (default min(N, 1.5 B + 32)), the
 * gradient and optimiser state. FL_ERR_NOMEM, FL_ERR_LIMIT.
 */
fl_err_t node_trainer_new(const node_model_t *model,
                          const node_train_spec_t *spec, size_t n_rows,
                          node_trainer_t **out, fl_errbuf_t *eb) FL_WUR;
void node_trainer_destroy(node_trainer_t **t_p);

/* Zeroes the optimiser state (momentum, Adam moments and step count). */
void node_trainer_reset(node_trainer_t *t);

/*
 * Runs steps steps on params (node_model_n_params floats, updated in
 * place) with batches sampled from ds, whose rows must equal the n_rows
 * given at creation and whose features the model's inputs. Sampling and
 * noise draw from rng (production: dp_rng_new_secure()). stats (may be
 * NULL) receives this call's figures. FL_ERR_INVALID (shape mismatch),
 * FL_ERR_NUMERIC (a parameter became non-finite; params are then not
 * usable).
 */
fl_err_t node_trainer_run_steps(node_trainer_t *t, float *params,
                                const node_dataset_t *ds, dp_rng_t *rng,
                                uint64_t steps, node_train_stats_t *stats,
                                fl_errbuf_t *eb) FL_WUR;

/* The sampling rate q = B / N of this trainer. */
double node_trainer_sampling_rate(const node_trainer_t *t);
/* Examples the workspace holds at once (the chunk size). */
size_t node_trainer_chunk(const node_trainer_t *t);

#endif
