/*
 * tests/unit/proto/test_codec_reject.c: every validation rule of the codec
 * rejects its input with the right code and names the right field. Invalid
 * messages are built with the unchecked encoder (codec_internal.h) or by
 * hand, byte by byte.
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

/* A growable byte buffer for hand-written protobuf. */
typedef struct raw {
    uint8_t *p;
    size_t len, cap;
} raw_t;

static void
raw_byte(raw_t *r, uint8_t b)
{
    if (r->len == r->cap) {
        r->cap = r->cap == 0 ? 256 : 2 * r->cap;
        r->p = realloc(r->p, r->cap);
        if (r->p == NULL)
            abort();
    }
    r->p[r->len++] = b;
}

static void
raw_varint(raw_t *r, uint64_t v)
{
    while (v >= 0x80) {
        raw_byte(r, (uint8_t) (v | 0x80));
        v >>= 7;
    }
    raw_byte(r, (uint8_t) v);
}

static void
raw_key(raw_t *r, unsigned field, unsigned wire)
{
    raw_varint(r, (uint64_t) field << 3 | wire);
}

static void
raw_bytes(raw_t *r, unsigned field, const void *p, size_t n)
{
    raw_key(r, field, 2);
    raw_varint(r, n);
    for (size_t i = 0; i < n; i++)
        raw_byte(r, ((const uint8_t *) p)[i]);
}

/* Envelope version 1, msg_id 5, then body field `field` holding sub. */
static raw_t
raw_envelope(unsigned field, const raw_t *sub)
{
    raw_t r = {0};

    raw_key(&r, 1, 0);
    raw_varint(&r, 1);
    raw_key(&r, 2, 0);
    raw_varint(&r, 5);
    raw_bytes(&r, field, sub->p, sub->len);
    return r;
}

/* Decodes and expects the code and the substring in the message. */
static void
expect_reject_lim(const uint8_t *buf, size_t len, const pb_limits_t *lim,
                  fl_err_t code, const char *needle)
{
    pb_msg_t out;
    fl_errbuf_t eb = {{0}};
    fl_err_t err = pb_envelope_decode(buf, len, lim, &out, &eb);

    if (err != code || strstr(eb.msg, needle) == NULL)
        fail_msg("got %s \"%s\", expected %s \"%s\"", fl_strerror(err), eb.msg,
                 fl_strerror(code), needle);
    assert_int_equal(out.type, PB_NONE);
    pb_msg_cleanup(&out);
}

static void
expect_reject(const uint8_t *buf, size_t len, fl_err_t code, const char *needle)
{
    pb_limits_t lim;

    sample_limits(&lim);
    expect_reject_lim(buf, len, &lim, code, needle);
}

/* Encodes msg unchecked with the given version, expects the rejection,
 * and cleans msg up. */
static void
expect_msg_reject_v(pb_msg_t *msg, uint32_t version, fl_err_t code,
                    const char *needle)
{
    fl_errbuf_t eb = {{0}};
    uint8_t *buf = NULL;
    size_t len = 0;

    assert_int_equal(
        pb__envelope_encode_unchecked(msg, version, &buf, &len, &eb), FL_OK);
    expect_reject(buf, len, code, needle);
    free(buf);
    pb_msg_cleanup(msg);
}

static void
expect_msg_reject(pb_msg_t *msg, fl_err_t code, const char *needle)
{
    expect_msg_reject_v(msg, PB_PROTOCOL_VERSION, code, needle);
}

static void
test_wrong_version(void **state)
{
    pb_msg_t m;

    (void) state;
    sample_msg(PB_HELLO, &m);
    expect_msg_reject_v(&m, 2, FL_ERR_UNSUPPORTED,
                        "envelope.version: 2, this build speaks 1");
    sample_msg(PB_HELLO, &m);
    expect_msg_reject_v(&m, 0, FL_ERR_UNSUPPORTED, "envelope.version: 0");
}

static void
test_unknown_body_and_fields(void **state)
{
    /* version 1, msg_id 5, unknown field 30 (an empty message) */
    static const uint8_t unknown_body[] = {0x08, 0x01, 0x10, 0x05,
                                           0xf2, 0x01, 0x00};
    static const uint8_t no_body[] = {0x08, 0x01, 0x10, 0x05};
    raw_t sub = {0}, env;

    (void) state;
    expect_reject(unknown_body, sizeof unknown_body, FL_ERR_PROTO,
                  "envelope.body: missing or unknown message type");
    expect_reject(no_body, sizeof no_body, FL_ERR_PROTO,
                  "envelope.body: missing");
    /* A hello with an extra field 7. */
    raw_bytes(&sub, 1, "dpfl", 4);
    raw_key(&sub, 7, 0);
    raw_varint(&sub, 1);
    env = raw_envelope(10, &sub);
    expect_reject(env.p, env.len, FL_ERR_PROTO, "hello: unknown field 7");
    free(env.p);
    /* An envelope with a body and an extra field 5. */
    sub.len = 0;
    raw_bytes(&sub, 1, "dpfl", 4);
    env = raw_envelope(10, &sub);
    raw_key(&env, 5, 0);
    raw_varint(&env, 3);
    expect_reject(env.p, env.len, FL_ERR_PROTO, "envelope: unknown field 5");
    free(env.p);
    free(sub.p);
}

static void
test_enum_out_of_range(void **state)
{
    pb_msg_t m;

    (void) state;
    sample_msg(PB_DECLINE, &m);
    m.u.decline.reason = (pb_decline_reason_t) 9;
    expect_msg_reject(&m, FL_ERR_PROTO, "decline.reason: value 9 not in 1..4");
    sample_msg(PB_DECLINE, &m);
    m.u.decline.reason = PB_DECLINE_NONE;
    expect_msg_reject(&m, FL_ERR_PROTO, "decline.reason: value 0");
    sample_msg(PB_BYE, &m);
    m.u.bye.reason = (pb_bye_reason_t) -1;
    expect_msg_reject(&m, FL_ERR_PROTO, "bye.reason: value -1");
    sample_msg(PB_ERROR, &m);
    m.u.error.code = (pb_error_code_t) 0;
    expect_msg_reject(&m, FL_ERR_PROTO, "error.code");
    sample_msg(PB_TRAIN_RESULT, &m);
    m.u.train_result.receipt.accountant = (pb_accountant_t) 7;
    expect_msg_reject(&m, FL_ERR_PROTO, "train_result.receipt.accountant");
    sample_msg(PB_TRAIN_RESULT, &m);
    m.u.train_result.receipt.generator = (pb_generator_t) 0;
    expect_msg_reject(&m, FL_ERR_PROTO, "train_result.receipt.generator");
    sample_msg(PB_JOB_ANSWER, &m);
    m.u.job_answer.accountant = (pb_accountant_t) 0;
    expect_msg_reject(&m, FL_ERR_PROTO, "job_answer.accountant");
}

static void
test_dimension(void **state)
{
    pb_msg_t m, out;
    pb_limits_t lim;
    fl_errbuf_t eb = {{0}};
    uint8_t *buf = NULL;
    size_t len = 0;
    raw_t sub = {0}, env;

    (void) state;
    sample_msg(PB_TRAIN_RESULT, &m);
    m.u.train_result.update_dim = 120;
    expect_msg_reject(&m, FL_ERR_PROTO,
                      "train_result.update: 120 floats, expected 514");
    sample_msg(PB_TRAIN_REQUEST, &m);
    m.u.train_request.model_dim = SAMPLE_DIM + 1;
    m.u.train_request.model =
        realloc(m.u.train_request.model, (SAMPLE_DIM + 1) * sizeof(float));
    assert_non_null(m.u.train_request.model);
    m.u.train_request.model[SAMPLE_DIM] = 1.0f;
    expect_msg_reject(&m, FL_ERR_PROTO,
                      "train_request.model: 515 floats, expected 514");
    /* Not a whole number of float32. */
    raw_key(&sub, 1, 0);
    raw_varint(&sub, 2);
    raw_bytes(&sub, 2, "abcdefg", 7);
    env = raw_envelope(17, &sub);
    expect_reject(env.p, env.len, FL_ERR_PROTO,
                  "eval_request.model: 7 bytes, not a whole number");
    free(env.p);
    free(sub.p);
    /* No job known: the caller's mistake, not the peer's. */
    sample_msg(PB_EVAL_REQUEST, &m);
    assert_int_equal(pb_envelope_encode(&m, &buf, &len, &eb), FL_OK);
    pb_limits_default(&lim);
    expect_reject_lim(buf, len, &lim, FL_ERR_INVALID,
                      "eval_request.model: model dimension not set");
    lim.model_dim = SAMPLE_DIM;
    assert_int_equal(pb_envelope_decode(buf, len, &lim, &out, &eb), FL_OK);
    pb_msg_cleanup(&out);
    free(buf);
    pb_msg_cleanup(&m);
}

static void
test_non_finite(void **state)
{
    pb_msg_t m;

    (void) state;
    sample_msg(PB_TRAIN_RESULT, &m);
    m.u.train_result.update[3] = NAN;
    expect_msg_reject(&m, FL_ERR_PROTO,
                      "train_result.update: element 3 is not finite");
    sample_msg(PB_TRAIN_REQUEST, &m);
    m.u.train_request.model[SAMPLE_DIM - 1] = -INFINITY;
    expect_msg_reject(&m, FL_ERR_PROTO,
                      "train_request.model: element 513 is not finite");
    sample_msg(PB_TRAIN_RESULT, &m);
    m.u.train_result.receipt.epsilon = NAN;
    expect_msg_reject(&m, FL_ERR_PROTO, "train_result.receipt.epsilon");
    /* +inf epsilon is only for training without DP. */
    sample_msg(PB_TRAIN_RESULT, &m);
    m.u.train_result.receipt.epsilon = INFINITY;
    expect_msg_reject(&m, FL_ERR_PROTO, "train_result.receipt.epsilon");
    sample_msg(PB_TRAIN_REQUEST, &m);
    m.u.train_request.learning_rate = INFINITY;
    expect_msg_reject(&m, FL_ERR_PROTO, "train_request.learning_rate");
    sample_msg(PB_EVAL_RESULT, &m);
    m.u.eval_result.loss = NAN;
    expect_msg_reject(&m, FL_ERR_PROTO, "eval_result.loss");
    sample_msg(PB_JOB_ANSWER, &m);
    m.u.job_answer.epsilon_budget = -INFINITY;
    expect_msg_reject(&m, FL_ERR_PROTO, "job_answer.epsilon_budget");
}

static void
test_ranges(void **state)
{
    pb_msg_t m;

    (void) state;
    sample_msg(PB_TRAIN_RESULT, &m);
    m.u.train_result.receipt.mechanism.sampling_rate = 1.5;
    expect_msg_reject(&m, FL_ERR_PROTO, "mechanism.sampling_rate: 1.5");
    sample_msg(PB_TRAIN_RESULT, &m);
    m.u.train_result.receipt.mechanism.noise_multiplier = 0.0;
    expect_msg_reject(&m, FL_ERR_PROTO, "mechanism.noise_multiplier");
    sample_msg(PB_TRAIN_RESULT, &m);
    m.u.train_result.receipt.delta = 1.0;
    expect_msg_reject(&m, FL_ERR_PROTO, "train_result.receipt.delta");
    sample_msg(PB_TRAIN_RESULT, &m);
    m.u.train_result.round_id = 0;
    expect_msg_reject(&m, FL_ERR_PROTO, "train_result.round_id");
    sample_msg(PB_TRAIN_REQUEST, &m);
    m.u.train_request.local_steps = PB_MAX_LOCAL_STEPS + 1;
    expect_msg_reject(&m, FL_ERR_PROTO, "train_request.local_steps");
    sample_msg(PB_TRAIN_REQUEST, &m);
    m.u.train_request.deadline_ms = 0;
    expect_msg_reject(&m, FL_ERR_PROTO, "train_request.deadline_ms");
    sample_msg(PB_JOB_ANSWER, &m);
    m.u.job_answer.delta = 1.0;
    expect_msg_reject(&m, FL_ERR_PROTO, "job_answer.delta");
    sample_msg(PB_JOB_ANSWER, &m);
    m.u.job_answer.dataset_size = 0;
    expect_msg_reject(&m, FL_ERR_PROTO, "job_answer.dataset_size");
    sample_msg(PB_JOB_ANSWER, &m);
    m.u.job_answer.reason = PB_DECLINE_BUSY;
    expect_msg_reject(&m, FL_ERR_PROTO, "job_answer.reason: 3 given with");
    sample_msg(PB_JOB_ANSWER, &m);
    m.u.job_answer.accept = false;
    expect_msg_reject(&m, FL_ERR_PROTO, "job_answer.reason: value 0");
}

static void
test_eval_result_rules(void **state)
{
    pb_msg_t m;

    (void) state;
    sample_msg(PB_EVAL_RESULT, &m);
    m.u.eval_result.n_examples = 99;
    expect_msg_reject(&m, FL_ERR_PROTO,
                      "eval_result.n_examples: 99, confusion sums to 100");
    sample_msg(PB_EVAL_RESULT, &m);
    m.u.eval_result.accuracy = 1.5;
    expect_msg_reject(&m, FL_ERR_PROTO, "eval_result.accuracy");
    sample_msg(PB_EVAL_RESULT, &m);
    SET_STR(m.u.eval_result.subgroups[1].name, "female");
    expect_msg_reject(&m, FL_ERR_PROTO,
                      "eval_result.subgroups[1].name: duplicate");
    sample_msg(PB_EVAL_RESULT, &m);
    m.u.eval_result.subgroups[0].auroc = -0.5;
    m.u.eval_result.subgroups[0].has_auroc = true;
    expect_msg_reject(&m, FL_ERR_PROTO, "eval_result.subgroups[0].auroc");
    /* Three classes where the job has two: the count, then the matrix. */
    sample_msg(PB_EVAL_RESULT, &m);
    m.u.eval_result.n_classes = 3;
    m.u.eval_result.confusion =
        realloc(m.u.eval_result.confusion, 9 * sizeof(uint64_t));
    assert_non_null(m.u.eval_result.confusion);
    expect_msg_reject(&m, FL_ERR_PROTO, "eval_result.n_classes: 3, expected 2");
}

static void
test_auroc_needs_two_classes(void **state)
{
    pb_msg_t m, out;
    pb_limits_t lim;
    fl_errbuf_t eb = {{0}};
    uint8_t *buf = NULL;
    size_t len = 0;

    (void) state;
    sample_msg(PB_EVAL_RESULT, &m);
    m.u.eval_result.n_classes = 3;
    free(m.u.eval_result.confusion);
    m.u.eval_result.confusion = calloc(9, sizeof(uint64_t));
    assert_non_null(m.u.eval_result.confusion);
    m.u.eval_result.confusion[4] = 100;
    m.u.eval_result.subgroups[0].has_auroc = false;
    m.u.eval_result.subgroups[1].has_auroc = false;
    assert_int_equal(pb__envelope_encode_unchecked(&m, 1, &buf, &len, &eb),
                     FL_OK);
    sample_limits(&lim);
    lim.n_classes = 3;
    expect_reject_lim(buf, len, &lim, FL_ERR_PROTO,
                      "eval_result.auroc: given with 3 classes");
    free(buf);
    m.u.eval_result.has_auroc = false;
    assert_int_equal(pb_envelope_encode(&m, &buf, &len, &eb), FL_OK);
    assert_int_equal(pb_envelope_decode(buf, len, &lim, &out, &eb), FL_OK);
    assert_int_equal(out.u.eval_result.confusion[4], 100);
    pb_msg_cleanup(&out);
    pb_msg_cleanup(&m);
    free(buf);
}

static void
test_sizes_and_counts(void **state)
{
    pb_msg_t m;
    pb_limits_t lim;
    fl_errbuf_t eb = {{0}};
    uint8_t *buf = NULL;
    size_t len = 0;

    (void) state;
    /* The whole message against max_message_bytes. */
    sample_msg(PB_TRAIN_RESULT, &m);
    assert_int_equal(pb_envelope_encode(&m, &buf, &len, &eb), FL_OK);
    sample_limits(&lim);
    lim.max_message_bytes = len - 1;
    expect_reject_lim(buf, len, &lim, FL_ERR_LIMIT, "envelope: ");
    free(buf);
    pb_msg_cleanup(&m);
    /* The job file against max_job_bytes. */
    sample_msg(PB_JOB_OFFER, &m);
    assert_int_equal(pb_envelope_encode(&m, &buf, &len, &eb), FL_OK);
    sample_limits(&lim);
    lim.max_job_bytes = 16;
    expect_reject_lim(buf, len, &lim, FL_ERR_LIMIT,
                      "job_offer.job_file: 39 bytes, at most 16");
    free(buf);
    pb_msg_cleanup(&m);
    /* Too many subgroups. */
    sample_msg(PB_EVAL_RESULT, &m);
    free(m.u.eval_result.subgroups);
    m.u.eval_result.n_subgroups = PB_MAX_SUBGROUPS + 1;
    m.u.eval_result.subgroups =
        calloc(PB_MAX_SUBGROUPS + 1, sizeof *m.u.eval_result.subgroups);
    assert_non_null(m.u.eval_result.subgroups);
    for (size_t i = 0; i <= PB_MAX_SUBGROUPS; i++)
        (void) snprintf(m.u.eval_result.subgroups[i].name, PB_MAX_NAME_LEN,
                        "g%zu", i);
    expect_msg_reject(&m, FL_ERR_LIMIT,
                      "eval_result.subgroups: 65 entries, at most 64");
}

static void
test_zero_msg_id(void **state)
{
    pb_msg_t m;
    fl_errbuf_t eb = {{0}};
    uint8_t *buf = NULL;
    size_t len = 0;

    (void) state;
    sample_msg(PB_BYE, &m);
    m.msg_id = 0;
    /* The encoder refuses it too. */
    assert_int_equal(pb_envelope_encode(&m, &buf, &len, &eb), FL_ERR_INVALID);
    assert_null(buf);
    assert_non_null(strstr(eb.msg, "envelope.msg_id"));
    expect_msg_reject(&m, FL_ERR_PROTO, "envelope.msg_id: must be non-zero");
}

static void
test_texts(void **state)
{
    pb_msg_t m;
    raw_t sub = {0}, env;
    char long_text[PB_MAX_TEXT_LEN + 1];

    (void) state;
    sample_msg(PB_HELLO, &m);
    SET_STR(m.u.hello.software_version, "dpfl\x01");
    expect_msg_reject(&m, FL_ERR_PROTO,
                      "hello.software_version: character U+0001 at byte 4");
    sample_msg(PB_HELLO, &m);
    m.u.hello.software_version[0] = '\0';
    expect_msg_reject(&m, FL_ERR_PROTO, "hello.software_version: empty");
    sample_msg(PB_WELCOME, &m);
    SET_STR(m.u.welcome.site_id, "urn:dpfl:site:x");
    expect_msg_reject(&m, FL_ERR_PROTO, "welcome.site_id: character U+003A");
    sample_msg(PB_DECLINE, &m);
    SET_STR(m.u.decline.text, "bad \xff byte");
    expect_msg_reject(&m, FL_ERR_PROTO,
                      "decline.text: invalid UTF-8 at byte 4");
    sample_msg(PB_BYE, &m);
    SET_STR(m.u.bye.text, "overlong \xc0\xaf");
    expect_msg_reject(&m, FL_ERR_PROTO, "bye.text: invalid UTF-8");
    sample_msg(PB_ERROR, &m);
    SET_STR(m.u.error.text, "surrogate \xed\xa0\x80");
    expect_msg_reject(&m, FL_ERR_PROTO, "error.text: invalid UTF-8");
    /* An embedded NUL and an over-long text, written by hand. */
    raw_key(&sub, 1, 0);
    raw_varint(&sub, 1);
    raw_bytes(&sub, 2, "a\0b", 3);
    env = raw_envelope(19, &sub);
    expect_reject(env.p, env.len, FL_ERR_PROTO,
                  "error.text: character U+0000 at byte 1");
    free(env.p);
    memset(long_text, 'x', sizeof long_text);
    sub.len = 0;
    raw_key(&sub, 1, 0);
    raw_varint(&sub, 1);
    raw_bytes(&sub, 2, long_text, sizeof long_text);
    env = raw_envelope(19, &sub);
    expect_reject(env.p, env.len, FL_ERR_PROTO,
                  "error.text: 257 bytes, at most 256");
    free(env.p);
    free(sub.p);
}

static void
test_job_offer_hash(void **state)
{
    pb_msg_t m;

    (void) state;
    sample_msg(PB_JOB_OFFER, &m);
    m.u.job_offer.job_hash[31] ^= 1;
    expect_msg_reject(&m, FL_ERR_PROTO,
                      "job_offer.job_hash: not the SHA-256 of job_file");
    sample_msg(PB_JOB_OFFER, &m);
    m.u.job_offer.job_file[2] = 0;
    expect_msg_reject(&m, FL_ERR_PROTO, "job_offer.job_file: character U+0000");
}

static void
test_missing_submessage(void **state)
{
    raw_t sub = {0}, env;
    uint8_t hash[PB_HASH_LEN] = {0};
    uint8_t model[4 * SAMPLE_DIM] = {0};

    (void) state;
    /* A train request without its audit head. */
    raw_key(&sub, 1, 0);
    raw_varint(&sub, 1);
    raw_bytes(&sub, 2, hash, sizeof hash);
    raw_bytes(&sub, 3, model, sizeof model);
    raw_key(&sub, 4, 0);
    raw_varint(&sub, 1);
    raw_key(&sub, 6, 0);
    raw_varint(&sub, 1000);
    env = raw_envelope(14, &sub);
    expect_reject(env.p, env.len, FL_ERR_PROTO,
                  "train_request.audit_head: missing");
    free(env.p);
    /* A hash of the wrong length. */
    sub.len = 0;
    raw_bytes(&sub, 1, hash, 31);
    raw_key(&sub, 2, 0);
    raw_varint(&sub, 1);
    env = raw_envelope(13, &sub);
    expect_reject(env.p, env.len, FL_ERR_PROTO,
                  "job_answer.job_hash: 31 bytes, expected 32");
    free(env.p);
    free(sub.p);
}

/* Every proper prefix of every valid message is rejected cleanly. */
static void
test_truncated(void **state)
{
    (void) state;
    for (size_t i = 0; i < N_SAMPLE_TYPES; i++) {
        pb_msg_t m, out;
        pb_limits_t lim;
        fl_errbuf_t eb = {{0}};
        uint8_t *buf = NULL;
        size_t len = 0;

        sample_msg(sample_types[i], &m);
        assert_int_equal(pb_envelope_encode(&m, &buf, &len, &eb), FL_OK);
        sample_limits(&lim);
        for (size_t cut = 0; cut < len; cut++) {
            fl_err_t err = pb_envelope_decode(buf, cut, &lim, &out, &eb);

            if (err == FL_OK)
                fail_msg("%s: prefix of %zu/%zu bytes accepted",
                         pb_type_name(sample_types[i]), cut, len);
            assert_int_equal(out.type, PB_NONE);
        }
        free(buf);
        pb_msg_cleanup(&m);
    }
}

static void
test_garbage(void **state)
{
    static const uint8_t ff[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff};
    uint8_t buf[64];
    uint64_t x = 0x9e3779b97f4a7c15u;
    pb_limits_t lim;

    (void) state;
    expect_reject(ff, sizeof ff, FL_ERR_PARSE, "not a valid Envelope");
    expect_reject(ff, 0, FL_ERR_PARSE, "envelope: empty");
    sample_limits(&lim);
    for (int it = 0; it < 20000; it++) {
        size_t n = 1 + (size_t) (it % (int) sizeof buf);
        pb_msg_t out;

        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[i] = (uint8_t) x;
        }
        assert_int_not_equal(pb_envelope_decode(buf, n, &lim, &out, NULL),
                             FL_OK);
        assert_int_equal(out.type, PB_NONE);
    }
}

/*
 * Many tiny fields: 200000 empty subgroups are 400 kB on the wire but
 * would make protobuf-c allocate over 8 MB; the bounded allocator refuses
 * before the count rule is ever reached. Lengths that point past the end
 * of the input are parse errors, never allocations.
 */
static void
test_bounded_allocator(void **state)
{
    raw_t sub = {0}, env;

    (void) state;
    raw_key(&sub, 1, 0);
    raw_varint(&sub, 1);
    for (int i = 0; i < 200000; i++) {
        raw_key(&sub, 9, 2);
        raw_varint(&sub, 0);
    }
    env = raw_envelope(18, &sub);
    expect_reject(env.p, env.len, FL_ERR_LIMIT, "bytes of memory");
    free(env.p);
    /* A model declaring 2^40 bytes. */
    sub.len = 0;
    raw_key(&sub, 1, 0);
    raw_varint(&sub, 1);
    raw_key(&sub, 2, 2);
    raw_varint(&sub, (uint64_t) 1 << 40);
    raw_byte(&sub, 0);
    env = raw_envelope(17, &sub);
    expect_reject(env.p, env.len, FL_ERR_PARSE, "not a valid Envelope");
    free(env.p);
    /* A packed confusion matrix declaring 2^62 bytes. */
    sub.len = 0;
    raw_key(&sub, 8, 2);
    raw_varint(&sub, (uint64_t) 1 << 62);
    raw_byte(&sub, 1);
    env = raw_envelope(18, &sub);
    expect_reject(env.p, env.len, FL_ERR_PARSE, "not a valid Envelope");
    free(env.p);
    free(sub.p);
}

static void
test_expected_type_and_args(void **state)
{
    pb_msg_t m, out;
    pb_limits_t lim;
    fl_errbuf_t eb = {{0}};
    uint8_t *buf = NULL;
    size_t len = 0;

    (void) state;
    sample_msg(PB_DECLINE, &m);
    assert_int_equal(pb_envelope_encode(&m, &buf, &len, &eb), FL_OK);
    sample_limits(&lim);
    assert_int_equal(
        pb_envelope_decode_as(buf, len, &lim, PB_TRAIN_RESULT, &out, &eb),
        FL_ERR_PROTO);
    assert_string_equal(eb.msg, "envelope: expected train_result, got decline");
    assert_int_equal(out.type, PB_NONE);
    lim.n_classes = 1;
    assert_int_equal(pb_envelope_decode(buf, len, &lim, &out, &eb),
                     FL_ERR_INVALID);
    sample_limits(&lim);
    lim.max_message_bytes = PB_MAX_MESSAGE_HARD + 1;
    assert_int_equal(pb_envelope_decode(buf, len, &lim, &out, &eb),
                     FL_ERR_INVALID);
    assert_int_equal(pb_envelope_decode(buf, len, NULL, &out, &eb),
                     FL_ERR_INVALID);
    free(buf);
    pb_msg_cleanup(&m);
    /* The encoder applies the value rules as well. */
    sample_msg(PB_TRAIN_RESULT, &m);
    m.u.train_result.update[0] = NAN;
    assert_int_equal(pb_envelope_encode(&m, &buf, &len, &eb), FL_ERR_INVALID);
    assert_string_equal(eb.msg, "train_result.update: element 0 is not finite");
    pb_msg_cleanup(&m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrong_version),
        cmocka_unit_test(test_unknown_body_and_fields),
        cmocka_unit_test(test_enum_out_of_range),
        cmocka_unit_test(test_dimension),
        cmocka_unit_test(test_non_finite),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_eval_result_rules),
        cmocka_unit_test(test_auroc_needs_two_classes),
        cmocka_unit_test(test_sizes_and_counts),
        cmocka_unit_test(test_zero_msg_id),
        cmocka_unit_test(test_texts),
        cmocka_unit_test(test_job_offer_hash),
        cmocka_unit_test(test_missing_submessage),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_bounded_allocator),
        cmocka_unit_test(test_expected_type_and_args),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
