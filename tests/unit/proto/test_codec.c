/*
 * tests/unit/proto/test_codec.c: round trips of every message type through
 * pb_envelope_encode / pb_envelope_decode, and pb_envelope_peek.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "proto/codec.h"
#include "proto/codec_internal.h"
#include "tests/unit/proto/codec_samples.h"

static void
assert_vec_equal(const float *a, size_t na, const float *b, size_t nb)
{
    assert_int_equal(na, nb);
    /* Bit-exact, including the sign of zero. */
    assert_memory_equal(a, b, na * sizeof *a);
}

static void
assert_train_equal(const pb_msg_t *a, const pb_msg_t *b)
{
    if (a->type == PB_TRAIN_REQUEST) {
        const pb_train_request_t *x = &a->u.train_request;
        const pb_train_request_t *y = &b->u.train_request;

        assert_int_equal(x->round_id, y->round_id);
        assert_memory_equal(x->job_hash, y->job_hash, PB_HASH_LEN);
        assert_vec_equal(x->model, x->model_dim, y->model, y->model_dim);
        assert_int_equal(x->local_steps, y->local_steps);
        assert_true(x->learning_rate == y->learning_rate);
        assert_int_equal(x->deadline_ms, y->deadline_ms);
        assert_int_equal(x->audit_head.seq, y->audit_head.seq);
        assert_memory_equal(x->audit_head.hash, y->audit_head.hash,
                            PB_HASH_LEN);
    } else {
        const pb_train_result_t *x = &a->u.train_result;
        const pb_train_result_t *y = &b->u.train_result;

        assert_int_equal(x->round_id, y->round_id);
        assert_vec_equal(x->update, x->update_dim, y->update, y->update_dim);
        assert_int_equal(x->local_steps_done, y->local_steps_done);
        /* Every receipt field is plain data: compare them all at once. */
        assert_true(x->receipt.epsilon == y->receipt.epsilon);
        assert_true(x->receipt.delta == y->receipt.delta);
        assert_int_equal(x->receipt.accountant, y->receipt.accountant);
        assert_true(x->receipt.mechanism.sampling_rate ==
                    y->receipt.mechanism.sampling_rate);
        assert_true(x->receipt.mechanism.noise_multiplier ==
                    y->receipt.mechanism.noise_multiplier);
        assert_int_equal(x->receipt.mechanism.steps,
                         y->receipt.mechanism.steps);
        assert_true(x->receipt.mechanism.clip_norm ==
                    y->receipt.mechanism.clip_norm);
        assert_int_equal(x->receipt.ledger_seq, y->receipt.ledger_seq);
        assert_int_equal(x->receipt.generator, y->receipt.generator);
    }
}

static void
assert_eval_equal(const pb_eval_result_t *x, const pb_eval_result_t *y)
{
    assert_int_equal(x->round_id, y->round_id);
    assert_int_equal(x->n_examples, y->n_examples);
    assert_true(x->loss == y->loss);
    assert_true(x->accuracy == y->accuracy);
    assert_int_equal(x->has_auroc, y->has_auroc);
    assert_true(x->auroc == y->auroc);
    assert_int_equal(x->n_classes, y->n_classes);
    assert_memory_equal(x->confusion, y->confusion,
                        (size_t) x->n_classes * x->n_classes *
                            sizeof *x->confusion);
    assert_int_equal(x->n_subgroups, y->n_subgroups);
    for (size_t i = 0; i < x->n_subgroups; i++) {
        const pb_subgroup_t *g = &x->subgroups[i], *h = &y->subgroups[i];

        assert_string_equal(g->name, h->name);
        assert_int_equal(g->n_examples, h->n_examples);
        assert_true(g->loss == h->loss);
        assert_true(g->accuracy == h->accuracy);
        assert_int_equal(g->has_auroc, h->has_auroc);
        assert_true(g->auroc == h->auroc);
    }
}

static void
assert_msg_equal(const pb_msg_t *a, const pb_msg_t *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->msg_id, b->msg_id);
    assert_int_equal(a->in_reply_to, b->in_reply_to);
    switch (a->type) {
    case PB_JOB_OFFER:
        assert_int_equal(a->u.job_offer.job_file_len,
                         b->u.job_offer.job_file_len);
        assert_memory_equal(a->u.job_offer.job_file, b->u.job_offer.job_file,
                            a->u.job_offer.job_file_len);
        assert_memory_equal(a->u.job_offer.job_hash, b->u.job_offer.job_hash,
                            PB_HASH_LEN);
        break;
    case PB_TRAIN_REQUEST:
    case PB_TRAIN_RESULT:
        assert_train_equal(a, b);
        break;
    case PB_EVAL_REQUEST:
        assert_int_equal(a->u.eval_request.round_id,
                         b->u.eval_request.round_id);
        assert_vec_equal(a->u.eval_request.model, a->u.eval_request.model_dim,
                         b->u.eval_request.model, b->u.eval_request.model_dim);
        break;
    case PB_EVAL_RESULT:
        assert_eval_equal(&a->u.eval_result, &b->u.eval_result);
        break;
    default:
        /* The other bodies hold no pointers: compare them bytewise (the
         * samples and the decoder both start from zeroed memory). */
        assert_memory_equal(&a->u, &b->u, sizeof a->u);
        break;
    }
}

static void
test_round_trip_every_type(void **state)
{
    pb_limits_t lim;

    (void) state;
    sample_limits(&lim);
    for (size_t i = 0; i < N_SAMPLE_TYPES; i++) {
        pb_msg_t in, out, again;
        fl_errbuf_t eb = {{0}};
        uint8_t *buf = NULL, *buf2 = NULL;
        size_t len = 0, len2 = 0;
        fl_err_t err;

        sample_msg(sample_types[i], &in);
        err = pb_envelope_encode(&in, &buf, &len, &eb);
        assert_int_equal(err, FL_OK);
        assert_non_null(buf);
        err = pb_envelope_decode(buf, len, &lim, &out, &eb);
        if (err != FL_OK)
            fail_msg("%s: %s", pb_type_name(sample_types[i]), eb.msg);
        assert_msg_equal(&in, &out);
        /* Encoding is deterministic: decoded then re-encoded is identical. */
        assert_int_equal(pb_envelope_encode(&out, &buf2, &len2, &eb), FL_OK);
        assert_int_equal(len, len2);
        assert_memory_equal(buf, buf2, len);
        assert_int_equal(
            pb_envelope_decode_as(buf, len, &lim, sample_types[i], &again, &eb),
            FL_OK);
        pb_msg_cleanup(&again);
        pb_msg_cleanup(&in);
        pb_msg_cleanup(&out);
        assert_int_equal(out.type, PB_NONE);
        free(buf);
        free(buf2);
    }
}

/* A declined job and a receipt of training without DP also round-trip. */
static void
test_round_trip_variants(void **state)
{
    pb_limits_t lim;
    pb_msg_t in, out;
    fl_errbuf_t eb = {{0}};
    uint8_t *buf = NULL;
    size_t len = 0;

    (void) state;
    sample_limits(&lim);
    sample_msg(PB_JOB_ANSWER, &in);
    in.u.job_answer.accept = false;
    in.u.job_answer.reason = PB_DECLINE_POLICY;
    in.u.job_answer.dataset_size = 0;
    assert_int_equal(pb_envelope_encode(&in, &buf, &len, &eb), FL_OK);
    assert_int_equal(pb_envelope_decode(buf, len, &lim, &out, &eb), FL_OK);
    assert_false(out.u.job_answer.accept);
    assert_int_equal(out.u.job_answer.reason, PB_DECLINE_POLICY);
    pb_msg_cleanup(&out);
    free(buf);

    sample_msg(PB_TRAIN_RESULT, &in);
    in.u.train_result.receipt.accountant = PB_ACCOUNTANT_NONE;
    in.u.train_result.receipt.epsilon = (double) INFINITY;
    in.u.train_result.receipt.mechanism.noise_multiplier = 0.0;
    in.u.train_result.receipt.generator = PB_GENERATOR_SEEDED;
    assert_int_equal(pb_envelope_encode(&in, &buf, &len, &eb), FL_OK);
    assert_int_equal(pb_envelope_decode(buf, len, &lim, &out, &eb), FL_OK);
    assert_true(out.u.train_result.receipt.epsilon == (double) INFINITY);
    assert_int_equal(out.u.train_result.receipt.generator, PB_GENERATOR_SEEDED);
    pb_msg_cleanup(&out);
    pb_msg_cleanup(&in);
    free(buf);
}

/* Little-endian float32 on the wire, independent of the host. */
static void
test_vector_wire_bytes(void **state)
{
    static const uint8_t one_le[4] = {0x00, 0x00, 0x80, 0x3f}; /* 1.0f */
    pb_msg_t in;
    fl_errbuf_t eb = {{0}};
    uint8_t *buf = NULL;
    size_t len = 0;
    int found = 0;

    (void) state;
    sample_msg(PB_EVAL_REQUEST, &in);
    for (size_t i = 0; i < in.u.eval_request.model_dim; i++)
        in.u.eval_request.model[i] = 1.0f;
    assert_int_equal(pb_envelope_encode(&in, &buf, &len, &eb), FL_OK);
    for (size_t i = 0; i + 4 <= len; i++) {
        if (memcmp(buf + i, one_le, 4) == 0)
            found++;
    }
    assert_true(found >= (int) SAMPLE_DIM);
    pb_msg_cleanup(&in);
    free(buf);
}

/* The byte-by-byte conversion (big-endian hosts) against known bytes. */
static void
test_float_bytes(void **state)
{
    static const float v[3] = {1.0f, -2.5f, 0.0f};
    static const uint8_t le[12] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00,
                                   0x20, 0xc0, 0x00, 0x00, 0x00, 0x00};
    uint8_t b[12], b2[12];
    float f[3], f2[3];

    (void) state;
    pb__floats_to_le_bytes(b, v, 3);
    assert_memory_equal(b, le, sizeof le);
    pb__floats_to_le(b2, v, 3);
    assert_memory_equal(b2, le, sizeof le);
    pb__floats_from_le_bytes(f, le, 3);
    assert_memory_equal(f, v, sizeof v);
    pb__floats_from_le(f2, le, 3);
    assert_memory_equal(f2, v, sizeof v);
}

static void
test_peek(void **state)
{
    pb_msg_t in;
    fl_errbuf_t eb = {{0}};
    uint8_t *buf = NULL;
    size_t len = 0;
    uint64_t id = 0, reply = 99;

    (void) state;
    for (size_t i = 0; i < N_SAMPLE_TYPES; i++) {
        sample_msg(sample_types[i], &in);
        in.msg_id = UINT64_MAX - i;
        in.in_reply_to = (uint64_t) i * 1000003u;
        assert_int_equal(pb_envelope_encode(&in, &buf, &len, &eb), FL_OK);
        assert_int_equal(pb_envelope_peek(buf, len, &id, &reply), FL_OK);
        assert_int_equal(id, UINT64_MAX - i);
        assert_int_equal(reply, (uint64_t) i * 1000003u);
        /* The body is the last field: cutting a byte truncates it. */
        assert_int_equal(pb_envelope_peek(buf, len - 1, &id, &reply),
                         FL_ERR_PARSE);
        assert_int_equal(pb_envelope_peek(buf, len, NULL, NULL), FL_OK);
        pb_msg_cleanup(&in);
        free(buf);
    }
}

static void
test_peek_rejects(void **state)
{
    /* version 1, msg_id 0 */
    static const uint8_t zero_id[] = {0x08, 0x01, 0x10, 0x00};
    /* version 1, no msg_id, in_reply_to 5 */
    static const uint8_t no_id[] = {0x08, 0x01, 0x18, 0x05};
    /* msg_id 7 with wire type 2 */
    static const uint8_t bad_wire[] = {0x12, 0x01, 0x07};
    /* msg_id as an 11-byte varint (ten is the most) */
    static const uint8_t long_varint[] = {0x10, 0xff, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    /* msg_id 7, then a length-delimited field 10 claiming 100 bytes */
    static const uint8_t overrun[] = {0x10, 0x07, 0x52, 0x64, 0x00};
    /* msg_id 7, then a group start (wire type 3) */
    static const uint8_t group[] = {0x10, 0x07, 0x53};
    /* msg_id 7 then 9 (the last wins), fixed64 and fixed32 skipped */
    static const uint8_t twice[] = {0x10, 0x07, 0x21, 1, 2, 3, 4, 5,    6,
                                    7,    8,    0x2d, 1, 2, 3, 4, 0x10, 0x09};
    static const uint8_t ten[] = {0x10, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0x7f};
    uint64_t id = 0, reply = 0;

    (void) state;
    assert_int_equal(pb_envelope_peek(zero_id, sizeof zero_id, &id, &reply),
                     FL_ERR_PROTO);
    assert_int_equal(pb_envelope_peek(no_id, sizeof no_id, &id, &reply),
                     FL_ERR_PROTO);
    assert_int_equal(pb_envelope_peek(bad_wire, sizeof bad_wire, &id, &reply),
                     FL_ERR_PARSE);
    assert_int_equal(
        pb_envelope_peek(long_varint, sizeof long_varint, &id, &reply),
        FL_ERR_PARSE);
    assert_int_equal(pb_envelope_peek(overrun, sizeof overrun, &id, &reply),
                     FL_ERR_PARSE);
    assert_int_equal(pb_envelope_peek(group, sizeof group, &id, &reply),
                     FL_ERR_PARSE);
    assert_int_equal(pb_envelope_peek(NULL, 0, &id, &reply), FL_ERR_PROTO);
    assert_int_equal(pb_envelope_peek(NULL, 4, &id, &reply), FL_ERR_INVALID);
    assert_int_equal(pb_envelope_peek(twice, sizeof twice, &id, &reply), FL_OK);
    assert_int_equal(id, 9);
    assert_int_equal(reply, 0);
    /* A ten-byte varint: bits past 2^64 are dropped, as protobuf-c does. */
    assert_int_equal(pb_envelope_peek(ten, sizeof ten, &id, &reply), FL_OK);
    assert_int_equal(id, UINT64_MAX);
}

static void
test_msg_id_first(void **state)
{
    uint64_t a = 0, b = 0;

    (void) state;
    assert_int_equal(pb_msg_id_first(&a), FL_OK);
    assert_int_equal(pb_msg_id_first(&b), FL_OK);
    assert_true(a >= 1 && a <= ((uint64_t) 1 << 62));
    assert_true(b >= 1 && b <= ((uint64_t) 1 << 62));
    /* Two draws of 62 bits collide with probability 2^-62. */
    assert_true(a != b);
    assert_int_equal(pb_msg_id_first(NULL), FL_ERR_INVALID);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_round_trip_variants),
        cmocka_unit_test(test_vector_wire_bytes),
        cmocka_unit_test(test_float_bytes),
        cmocka_unit_test(test_peek),
        cmocka_unit_test(test_peek_rejects),
        cmocka_unit_test(test_msg_id_first),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
