/*
 * tests/unit/proto/codec_samples.h: one valid message of every type, shared
 * by the codec's unit tests (header-only: each test is its own binary).
 * Every sample uses SAMPLE_DIM floats and SAMPLE_CLASSES classes.
 */
#ifndef TEST_CODEC_SAMPLES_H
#define TEST_CODEC_SAMPLES_H

#include "proto/codec.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies a literal into a fixed text array. */
#define SET_STR(dst, s) ((void) snprintf((dst), sizeof(dst), "%s", (s)))

#define SAMPLE_DIM 514u
#define SAMPLE_CLASSES 2u

static const char sample_job[] =
    "[job]\nname = heart\nrounds = 20\n# caf\xc3\xa9\n";

static const pb_type_t sample_types[] = {
    PB_HELLO,         PB_WELCOME,      PB_JOB_OFFER, PB_JOB_ANSWER,
    PB_TRAIN_REQUEST, PB_TRAIN_RESULT, PB_DECLINE,   PB_EVAL_REQUEST,
    PB_EVAL_RESULT,   PB_ERROR,        PB_BYE};
#define N_SAMPLE_TYPES (sizeof sample_types / sizeof sample_types[0])

static inline void
sample_limits(pb_limits_t *lim)
{
    pb_limits_default(lim);
    lim->model_dim = SAMPLE_DIM;
    lim->n_classes = SAMPLE_CLASSES;
}

/* A vector with distinct, exactly representable values (and a -0). */
static inline float *
sample_vector(size_t n)
{
    float *v = malloc(n * sizeof *v);

    if (v == NULL)
        abort();
    for (size_t i = 0; i < n; i++)
        v[i] = (float) ((double) i - 100.0) / 64.0f;
    v[0] = -0.0f;
    return v;
}

static inline void
sample_hash(uint8_t h[PB_HASH_LEN], uint8_t seed)
{
    for (int i = 0; i < PB_HASH_LEN; i++)
        h[i] = (uint8_t) (seed + 7 * i);
}

static inline void
sample_job_offer(pb_job_offer_t *m)
{
    unsigned int n = 0;

    m->job_file_len = sizeof sample_job - 1;
    m->job_file = malloc(m->job_file_len);
    if (m->job_file == NULL)
        abort();
    memcpy(m->job_file, sample_job, m->job_file_len);
    if (EVP_Digest(m->job_file, m->job_file_len, m->job_hash, &n, EVP_sha256(),
                   NULL) != 1)
        abort();
}

static inline void
sample_eval_result(pb_eval_result_t *m)
{
    static const uint64_t conf[4] = {50, 7, 3, 40};

    m->round_id = 9;
    m->n_examples = 100;
    m->loss = 0.4375;
    m->accuracy = 0.9;
    m->has_auroc = true;
    m->auroc = 0.93;
    m->n_classes = SAMPLE_CLASSES;
    m->confusion = malloc(sizeof conf);
    m->subgroups = calloc(2, sizeof *m->subgroups);
    if (m->confusion == NULL || m->subgroups == NULL)
        abort();
    memcpy(m->confusion, conf, sizeof conf);
    m->n_subgroups = 2;
    SET_STR(m->subgroups[0].name, "female");
    m->subgroups[0].n_examples = 45;
    m->subgroups[0].loss = 0.5;
    m->subgroups[0].accuracy = 0.875;
    SET_STR(m->subgroups[1].name, "m\xc3\xa4nnlich");
    m->subgroups[1].n_examples = 55;
    m->subgroups[1].loss = 0.25;
    m->subgroups[1].accuracy = 0.75;
    m->subgroups[1].has_auroc = true;
    m->subgroups[1].auroc = 0.5;
}

static inline void
sample_train(pb_msg_t *msg)
{
    if (msg->type == PB_TRAIN_REQUEST) {
        pb_train_request_t *m = &msg->u.train_request;

        m->round_id = 3;
        sample_hash(m->job_hash, 1);
        m->model = sample_vector(SAMPLE_DIM);
        m->model_dim = SAMPLE_DIM;
        m->local_steps = 5;
        m->learning_rate = 0.05;
        m->deadline_ms = 60000;
        m->audit_head.seq = 41;
        sample_hash(m->audit_head.hash, 2);
    } else {
        pb_train_result_t *m = &msg->u.train_result;

        m->round_id = 3;
        m->update = sample_vector(SAMPLE_DIM);
        m->update_dim = SAMPLE_DIM;
        m->local_steps_done = 5;
        m->receipt.epsilon = 1.25;
        m->receipt.delta = 1e-5;
        m->receipt.accountant = PB_ACCOUNTANT_PLD;
        m->receipt.mechanism.sampling_rate = 0.01;
        m->receipt.mechanism.noise_multiplier = 1.1;
        m->receipt.mechanism.steps = 5;
        m->receipt.mechanism.clip_norm = 1.0;
        m->receipt.ledger_seq = 17;
        m->receipt.generator = PB_GENERATOR_SECURE;
    }
}

/* Fills msg (zeroed first) with a valid message of the given type. */
static inline void
sample_msg(pb_type_t type, pb_msg_t *msg)
{
    memset(msg, 0, sizeof *msg);
    msg->type = type;
    msg->msg_id = 1000 + (uint64_t) type;
    msg->in_reply_to = type == PB_WELCOME ? 1010 : 0;
    switch (type) {
    case PB_HELLO:
        SET_STR(msg->u.hello.software_version, "dpfl 0.1.0");
        break;
    case PB_WELCOME:
        SET_STR(msg->u.welcome.site_id, "st-marys_london.2");
        SET_STR(msg->u.welcome.coordinator_version, "dpfl 0.1.0");
        break;
    case PB_JOB_OFFER:
        sample_job_offer(&msg->u.job_offer);
        break;
    case PB_JOB_ANSWER:
        sample_hash(msg->u.job_answer.job_hash, 1);
        msg->u.job_answer.accept = true;
        msg->u.job_answer.dataset_size = 303;
        msg->u.job_answer.epsilon_budget = 8.0;
        msg->u.job_answer.delta = 1e-5;
        msg->u.job_answer.accountant = PB_ACCOUNTANT_RDP;
        SET_STR(msg->u.job_answer.text, "approved by the DPO");
        break;
    case PB_TRAIN_REQUEST:
    case PB_TRAIN_RESULT:
        sample_train(msg);
        break;
    case PB_DECLINE:
        msg->u.decline.round_id = 4;
        msg->u.decline.reason = PB_DECLINE_BUDGET_EXHAUSTED;
        SET_STR(msg->u.decline.text, "epsilon 8.1 > 8");
        break;
    case PB_EVAL_REQUEST:
        msg->u.eval_request.round_id = 9;
        msg->u.eval_request.model = sample_vector(SAMPLE_DIM);
        msg->u.eval_request.model_dim = SAMPLE_DIM;
        break;
    case PB_EVAL_RESULT:
        sample_eval_result(&msg->u.eval_result);
        break;
    case PB_ERROR:
        msg->u.error.code = PB_ERROR_STALE;
        SET_STR(msg->u.error.text, "round 2 is closed");
        break;
    case PB_BYE:
        msg->u.bye.reason = PB_BYE_JOB_DONE;
        break;
    case PB_NONE:
        break;
    }
}

#endif
