/*
 * proto/codec_check.c: the field rules of every message (docs/protocol.md),
 * applied to the plain structs of proto/codec.h after decoding and before
 * encoding, plus the text and float helpers they use.
 */
#include "proto/codec_internal.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

/* The wire format is IEEE-754 binary32; so must float be. */
_Static_assert(sizeof(float) == 4 && FLT_RADIX == 2 && FLT_MANT_DIG == 24 &&
                   FLT_MAX_EXP == 128,
               "float must be IEEE-754 binary32");

/* Length of the UTF-8 sequence starting at s[0..len), 0 if invalid. */
static size_t
utf8_seq(const uint8_t *s, size_t len, uint32_t *cp)
{
    size_t n;
    uint32_t c = s[0], min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2, c &= 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3, c &= 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, c &= 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3fu);
    }
    /* Overlong forms, UTF-16 surrogates and values past U+10FFFF. */
    if (c < min || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
        return 0;
    *cp = c;
    return n;
}

static bool
char_allowed(uint32_t c, pb__text_kind_t kind)
{
    switch (kind) {
    case PB__TEXT_ASCII:
        return c >= 0x20 && c <= 0x7e;
    case PB__TEXT_SITE_ID:
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    case PB__TEXT_UTF8:
        /* No C0 controls, DEL or C1 controls. */
        return c >= 0x20 && !(c >= 0x7f && c <= 0x9f);
    case PB__TEXT_FILE:
        return c != 0;
    }
    return false;
}

fl_err_t
pb__check_text_len(size_t len, size_t min_len, size_t max_len,
                   pb__text_kind_t kind, const char *field, fl_err_t code,
                   fl_errbuf_t *eb)
{
    if (len < min_len)
        return fl_fail(eb, code, "%s: empty", field);
    if (len > max_len)
        return fl_fail(eb, kind == PB__TEXT_FILE ? FL_ERR_LIMIT : code,
                       "%s: %zu bytes, at most %zu allowed", field, len,
                       max_len);
    return FL_OK;
}

fl_err_t
pb__check_text(const uint8_t *s, size_t len, size_t min_len, size_t max_len,
               pb__text_kind_t kind, const char *field, fl_err_t code,
               fl_errbuf_t *eb)
{
    size_t i = 0;

    TRY(pb__check_text_len(len, min_len, max_len, kind, field, code, eb));
    while (i < len) {
        uint32_t c;
        size_t n = utf8_seq(s + i, len - i, &c);

        if (n == 0)
            return fl_fail(eb, code, "%s: invalid UTF-8 at byte %zu", field, i);
        if (!char_allowed(c, kind) || (kind < PB__TEXT_UTF8 && n > 1))
            return fl_fail(eb, code,
                           "%s: character U+%04X at byte %zu not allowed",
                           field, (unsigned) c, i);
        i += n;
    }
    return FL_OK;
}

/* Same, for a NUL-terminated text held in a fixed array of size cap. */
static fl_err_t
check_cstr(const char *s, size_t cap, size_t min_len, size_t max_len,
           pb__text_kind_t kind, const char *field, fl_err_t code,
           fl_errbuf_t *eb)
{
    const char *end = memchr(s, '\0', cap);

    if (end == NULL)
        return fl_fail(eb, code, "%s: not terminated", field);
    return pb__check_text((const uint8_t *) s, (size_t) (end - s), min_len,
                          max_len, kind, field, code, eb);
}

fl_err_t
pb__check_dim(size_t n, const pb_limits_t *lim, const char *field,
              fl_err_t code, fl_errbuf_t *eb)
{
    if (n == 0)
        return fl_fail(eb, code, "%s: empty vector", field);
    if (lim->model_dim == 0)
        return fl_fail(eb, FL_ERR_INVALID,
                       "%s: model dimension not set in the limits", field);
    if (n != lim->model_dim)
        return fl_fail(eb, code, "%s: %zu floats, expected %zu", field, n,
                       lim->model_dim);
    return FL_OK;
}

/* True on a little-endian host, where the wire layout is the memory one. */
static bool
host_is_le(void)
{
    const uint32_t one = 1;
    uint8_t first;

    memcpy(&first, &one, 1);
    return first == 1;
}

void
pb__floats_from_le_bytes(float *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = src + 4 * i;
        uint32_t w = (uint32_t) p[0] | (uint32_t) p[1] << 8 |
                     (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;

        memcpy(&dst[i], &w, sizeof w);
    }
}

void
pb__floats_to_le_bytes(uint8_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t w;
        uint8_t *p = dst + 4 * i;

        memcpy(&w, &src[i], sizeof w);
        p[0] = (uint8_t) w;
        p[1] = (uint8_t) (w >> 8);
        p[2] = (uint8_t) (w >> 16);
        p[3] = (uint8_t) (w >> 24);
    }
}

/* On a little-endian host the wire layout is the memory one: one copy. */
void
pb__floats_from_le(float *dst, const uint8_t *src, size_t n)
{
    if (host_is_le()) {
        if (n > 0)
            memcpy(dst, src, 4 * n);
        return;
    }
    pb__floats_from_le_bytes(dst, src, n);
}

void
pb__floats_to_le(uint8_t *dst, const float *src, size_t n)
{
    if (host_is_le()) {
        if (n > 0)
            memcpy(dst, src, 4 * n);
        return;
    }
    pb__floats_to_le_bytes(dst, src, n);
}

/* A model or update: dimension, then every value finite. */
static fl_err_t
check_vector(const float *v, size_t n, const pb_limits_t *lim,
             const char *field, fl_err_t code, fl_errbuf_t *eb)
{
    fl_err_t err = pb__check_dim(n, lim, field, code, eb);

    if (err != FL_OK)
        return err;
    if (v == NULL)
        return fl_fail(eb, FL_ERR_INVALID, "%s: no data", field);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            return fl_fail(eb, code, "%s: element %zu is not finite", field, i);
    }
    return FL_OK;
}

/* lo <= x <= hi (inclusive flags), x finite. */
static fl_err_t
check_double(double x, double lo, bool lo_incl, double hi, bool hi_incl,
             const char *field, fl_err_t code, fl_errbuf_t *eb)
{
    if (!isfinite(x) || (lo_incl ? x < lo : x <= lo) ||
        (hi_incl ? x > hi : x >= hi))
        return fl_fail(eb, code, "%s: %g not in %c%g, %g%c", field, x,
                       lo_incl ? '[' : '(', lo, hi, hi_incl ? ']' : ')');
    return FL_OK;
}

static fl_err_t
check_enum(int v, int lo, int hi, const char *field, fl_err_t code,
           fl_errbuf_t *eb)
{
    if (v < lo || v > hi)
        return fl_fail(eb, code, "%s: value %d not in %d..%d", field, v, lo,
                       hi);
    return FL_OK;
}

static fl_err_t
check_round(uint64_t round_id, const char *field, fl_err_t code,
            fl_errbuf_t *eb)
{
    if (round_id == 0)
        return fl_fail(eb, code, "%s: must be non-zero", field);
    return FL_OK;
}

static fl_err_t
check_steps(uint32_t steps, const char *field, fl_err_t code, fl_errbuf_t *eb)
{
    if (steps == 0 || steps > PB_MAX_LOCAL_STEPS)
        return fl_fail(eb, code, "%s: %u not in 1..%u", field, (unsigned) steps,
                       PB_MAX_LOCAL_STEPS);
    return FL_OK;
}

/* Checks a free text (may be empty) of at most PB_MAX_TEXT_LEN bytes. */
#define CHECK_TEXT(s, field)                                                   \
    check_cstr((s), sizeof(s), 0, PB_MAX_TEXT_LEN, PB__TEXT_UTF8, (field),     \
               code, eb)

static fl_err_t
check_hello(const pb_hello_t *m, fl_err_t code, fl_errbuf_t *eb)
{
    return check_cstr(m->software_version, sizeof m->software_version, 1,
                      PB_MAX_VERSION_LEN, PB__TEXT_ASCII,
                      "hello.software_version", code, eb);
}

static fl_err_t
check_welcome(const pb_welcome_t *m, fl_err_t code, fl_errbuf_t *eb)
{
    TRY(check_cstr(m->site_id, sizeof m->site_id, 1, PB_MAX_SITE_ID_LEN,
                   PB__TEXT_SITE_ID, "welcome.site_id", code, eb));
    return check_cstr(m->coordinator_version, sizeof m->coordinator_version, 1,
                      PB_MAX_VERSION_LEN, PB__TEXT_ASCII,
                      "welcome.coordinator_version", code, eb);
}

static fl_err_t
check_job_offer(const pb_job_offer_t *m, const pb_limits_t *lim, fl_err_t code,
                fl_errbuf_t *eb)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    if (m->job_file == NULL && m->job_file_len > 0)
        return fl_fail(eb, FL_ERR_INVALID, "job_offer.job_file: no data");
    TRY(pb__check_text(m->job_file, m->job_file_len, 1, lim->max_job_bytes,
                       PB__TEXT_FILE, "job_offer.job_file", code, eb));
    if (EVP_Digest(m->job_file, m->job_file_len, md, &md_len, EVP_sha256(),
                   NULL) != 1 ||
        md_len != PB_HASH_LEN)
        return fl_fail(eb, FL_ERR_CRYPTO, "job_offer.job_hash: SHA-256 failed");
    if (memcmp(md, m->job_hash, PB_HASH_LEN) != 0)
        return fl_fail(eb, code,
                       "job_offer.job_hash: not the SHA-256 of job_file");
    return FL_OK;
}

/* The privacy parameters a node declares when it accepts a job. */
static fl_err_t
check_job_accept(const pb_job_answer_t *m, fl_err_t code, fl_errbuf_t *eb)
{
    TRY(check_enum((int) m->accountant, PB_ACCOUNTANT_RDP, PB_ACCOUNTANT_NONE,
                   "job_answer.accountant", code, eb));
    if (m->dataset_size == 0 || m->dataset_size > PB_MAX_DATASET_SIZE)
        return fl_fail(eb, code, "job_answer.dataset_size: %llu not in 1..%llu",
                       (unsigned long long) m->dataset_size,
                       (unsigned long long) PB_MAX_DATASET_SIZE);
    if (!(m->accountant == PB_ACCOUNTANT_NONE &&
          m->epsilon_budget == (double) INFINITY))
        TRY(check_double(m->epsilon_budget, 0, false, DBL_MAX, true,
                         "job_answer.epsilon_budget", code, eb));
    return check_double(m->delta, 0, false, 1, false, "job_answer.delta", code,
                        eb);
}

static fl_err_t
check_job_answer(const pb_job_answer_t *m, fl_err_t code, fl_errbuf_t *eb)
{
    TRY(CHECK_TEXT(m->text, "job_answer.text"));
    if (m->accept) {
        if (m->reason != PB_DECLINE_NONE)
            return fl_fail(eb, code, "job_answer.reason: %d given with accept",
                           (int) m->reason);
        return check_job_accept(m, code, eb);
    }
    return check_enum((int) m->reason, PB_DECLINE_BUDGET_EXHAUSTED,
                      PB_DECLINE_ERROR, "job_answer.reason", code, eb);
}

static fl_err_t
check_train_request(const pb_train_request_t *m, const pb_limits_t *lim,
                    fl_err_t code, fl_errbuf_t *eb)
{
    TRY(check_round(m->round_id, "train_request.round_id", code, eb));
    TRY(check_vector(m->model, m->model_dim, lim, "train_request.model", code,
                     eb));
    TRY(check_steps(m->local_steps, "train_request.local_steps", code, eb));
    if (m->learning_rate != 0.0)
        TRY(check_double(m->learning_rate, 0, false, DBL_MAX, true,
                         "train_request.learning_rate", code, eb));
    if (m->deadline_ms == 0 || m->deadline_ms > PB_MAX_DEADLINE_MS)
        return fl_fail(eb, code,
                       "train_request.deadline_ms: %llu not in 1..%llu",
                       (unsigned long long) m->deadline_ms,
                       (unsigned long long) PB_MAX_DEADLINE_MS);
    return FL_OK;
}

static fl_err_t
check_receipt(const pb_receipt_t *r, fl_err_t code, fl_errbuf_t *eb)
{
    const pb_mechanism_t *mech = &r->mechanism;
    bool no_dp = r->accountant == PB_ACCOUNTANT_NONE;

    TRY(check_enum((int) r->accountant, PB_ACCOUNTANT_RDP, PB_ACCOUNTANT_NONE,
                   "train_result.receipt.accountant", code, eb));
    TRY(check_enum((int) r->generator, PB_GENERATOR_SECURE, PB_GENERATOR_SEEDED,
                   "train_result.receipt.generator", code, eb));
    if (!(no_dp && r->epsilon == (double) INFINITY))
        TRY(check_double(r->epsilon, 0, true, DBL_MAX, true,
                         "train_result.receipt.epsilon", code, eb));
    TRY(check_double(r->delta, 0, true, 1, false, "train_result.receipt.delta",
                     code, eb));
    TRY(check_double(mech->sampling_rate, 0, false, 1, true,
                     "train_result.receipt.mechanism.sampling_rate", code, eb));
    TRY(check_double(mech->noise_multiplier, 0, no_dp, DBL_MAX, true,
                     "train_result.receipt.mechanism.noise_multiplier", code,
                     eb));
    TRY(check_steps(mech->steps, "train_result.receipt.mechanism.steps", code,
                    eb));
    return check_double(mech->clip_norm, 0, false, DBL_MAX, true,
                        "train_result.receipt.mechanism.clip_norm", code, eb);
}

static fl_err_t
check_train_result(const pb_train_result_t *m, const pb_limits_t *lim,
                   fl_err_t code, fl_errbuf_t *eb)
{
    TRY(check_round(m->round_id, "train_result.round_id", code, eb));
    TRY(check_vector(m->update, m->update_dim, lim, "train_result.update", code,
                     eb));
    TRY(check_steps(m->local_steps_done, "train_result.local_steps_done", code,
                    eb));
    return check_receipt(&m->receipt, code, eb);
}

static fl_err_t
check_decline(const pb_decline_t *m, fl_err_t code, fl_errbuf_t *eb)
{
    TRY(check_round(m->round_id, "decline.round_id", code, eb));
    TRY(check_enum((int) m->reason, PB_DECLINE_BUDGET_EXHAUSTED,
                   PB_DECLINE_ERROR, "decline.reason", code, eb));
    return CHECK_TEXT(m->text, "decline.text");
}

/* Loss, accuracy and AUROC of the whole result or of one subgroup. */
static fl_err_t
check_metrics(double loss, double accuracy, bool has_auroc, double auroc,
              uint32_t n_classes, const char *what, fl_err_t code,
              fl_errbuf_t *eb)
{
    char field[96];

    (void) snprintf(field, sizeof field, "%s.loss", what);
    TRY(check_double(loss, 0, true, DBL_MAX, true, field, code, eb));
    (void) snprintf(field, sizeof field, "%s.accuracy", what);
    TRY(check_double(accuracy, 0, true, 1, true, field, code, eb));
    (void) snprintf(field, sizeof field, "%s.auroc", what);
    if (has_auroc && n_classes != 2)
        return fl_fail(eb, code, "%s: given with %u classes, needs 2", field,
                       (unsigned) n_classes);
    if (has_auroc)
        TRY(check_double(auroc, 0, true, 1, true, field, code, eb));
    return FL_OK;
}

static fl_err_t
check_subgroups(const pb_eval_result_t *m, fl_err_t code, fl_errbuf_t *eb)
{
    char what[64];

    if (m->n_subgroups > PB_MAX_SUBGROUPS)
        return fl_fail(eb, FL_ERR_LIMIT,
                       "eval_result.subgroups: %zu entries, at most %u",
                       m->n_subgroups, PB_MAX_SUBGROUPS);
    if (m->n_subgroups > 0 && m->subgroups == NULL)
        return fl_fail(eb, FL_ERR_INVALID, "eval_result.subgroups: no data");
    for (size_t i = 0; i < m->n_subgroups; i++) {
        const pb_subgroup_t *g = &m->subgroups[i];

        (void) snprintf(what, sizeof what, "eval_result.subgroups[%zu]", i);
        TRY(check_cstr(g->name, sizeof g->name, 1, PB_MAX_NAME_LEN,
                       PB__TEXT_UTF8, what, code, eb));
        TRY(check_metrics(g->loss, g->accuracy, g->has_auroc, g->auroc,
                          m->n_classes, what, code, eb));
        /* At most 64 subgroups: the quadratic scan is cheap. */
        for (size_t j = 0; j < i; j++) {
            if (strcmp(m->subgroups[j].name, g->name) == 0)
                return fl_fail(eb, code, "%s.name: duplicate \"%s\"", what,
                               g->name);
        }
    }
    return FL_OK;
}

static fl_err_t
check_eval_result(const pb_eval_result_t *m, const pb_limits_t *lim,
                  fl_err_t code, fl_errbuf_t *eb)
{
    uint64_t sum = 0;
    size_t cells;

    TRY(check_round(m->round_id, "eval_result.round_id", code, eb));
    if (lim->n_classes == 0)
        return fl_fail(eb, FL_ERR_INVALID,
                       "eval_result.n_classes: not set in the limits");
    if (m->n_classes != lim->n_classes)
        return fl_fail(eb, code, "eval_result.n_classes: %u, expected %u",
                       (unsigned) m->n_classes, (unsigned) lim->n_classes);
    TRY(check_metrics(m->loss, m->accuracy, m->has_auroc, m->auroc,
                      m->n_classes, "eval_result", code, eb));
    cells = (size_t) m->n_classes * m->n_classes;
    if (m->confusion == NULL)
        return fl_fail(eb, FL_ERR_INVALID, "eval_result.confusion: no data");
    for (size_t i = 0; i < cells; i++) {
        if (m->confusion[i] > UINT64_MAX - sum)
            return fl_fail(eb, code, "eval_result.confusion: sum overflows");
        sum += m->confusion[i];
    }
    if (sum != m->n_examples)
        return fl_fail(
            eb, code, "eval_result.n_examples: %llu, confusion sums to %llu",
            (unsigned long long) m->n_examples, (unsigned long long) sum);
    return check_subgroups(m, code, eb);
}

fl_err_t
pb__msg_check(const pb_msg_t *msg, const pb_limits_t *lim, fl_err_t code,
              fl_errbuf_t *eb)
{
    if (msg->msg_id == 0)
        return fl_fail(eb, code, "envelope.msg_id: must be non-zero");
    switch (msg->type) {
    case PB_HELLO:
        return check_hello(&msg->u.hello, code, eb);
    case PB_WELCOME:
        return check_welcome(&msg->u.welcome, code, eb);
    case PB_JOB_OFFER:
        return check_job_offer(&msg->u.job_offer, lim, code, eb);
    case PB_JOB_ANSWER:
        return check_job_answer(&msg->u.job_answer, code, eb);
    case PB_TRAIN_REQUEST:
        return check_train_request(&msg->u.train_request, lim, code, eb);
    case PB_TRAIN_RESULT:
        return check_train_result(&msg->u.train_result, lim, code, eb);
    case PB_DECLINE:
        return check_decline(&msg->u.decline, code, eb);
    case PB_EVAL_REQUEST:
        TRY(check_round(msg->u.eval_request.round_id, "eval_request.round_id",
                        code, eb));
        return check_vector(msg->u.eval_request.model,
                            msg->u.eval_request.model_dim, lim,
                            "eval_request.model", code, eb);
    case PB_EVAL_RESULT:
        return check_eval_result(&msg->u.eval_result, lim, code, eb);
    case PB_ERROR:
        TRY(check_enum((int) msg->u.error.code, PB_ERROR_MALFORMED,
                       PB_ERROR_INTERNAL, "error.code", code, eb));
        return CHECK_TEXT(msg->u.error.text, "error.text");
    case PB_BYE:
        TRY(check_enum((int) msg->u.bye.reason, PB_BYE_SHUTDOWN, PB_BYE_ERROR,
                       "bye.reason", code, eb));
        return CHECK_TEXT(msg->u.bye.text, "bye.text");
    case PB_NONE:
        break;
    }
    return fl_fail(eb, code, "envelope: no known body (type %d)",
                   (int) msg->type);
}
