/*
 * proto/codec_decode.c: untrusted bytes -> pb_msg_t. Unpacks with a
 * bounded allocator, converts every protobuf-c message into the plain
 * structs of proto/codec.h (checking lengths before copying), then applies
 * the field rules of codec_check.c.
 */
#include "proto/codec_internal.h"

#include "dpfl.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The unpacker may allocate at most PB__ALLOC_FACTOR bytes per input byte,
 * plus PB__ALLOC_SLACK, plus what the bounded repeated fields may need
 * (alloc_budget()). A valid message needs about one byte per input byte
 * (byte strings are copied once) plus small structs. Repeated fields are
 * the exception: a packed varint of one byte becomes an 8-byte array slot
 * and, sent unpacked, a 32-byte bookkeeping record of protobuf-c as well;
 * their counts are bounded by the limits, so their share is too. A message
 * of many tiny unknown or repeated fields beyond that is refused before
 * protobuf-c allocates for it.
 */
#define PB__ALLOC_FACTOR 2u
#define PB__ALLOC_SLACK ((size_t) 1 << 20)
#define PB__ALLOC_PER_CELL 48u      /* confusion count: slot + record */
#define PB__ALLOC_PER_SUBGROUP 512u /* struct, pointer, record, name */

typedef struct bounded_alloc {
    size_t budget;
    size_t used; /* cumulative: frees do not give budget back */
    bool refused;
    bool nomem;
} bounded_alloc_t;

static void *
bounded_alloc(void *data, size_t size)
{
    bounded_alloc_t *ba = data;
    void *p;

    if (size > ba->budget - ba->used) {
        ba->refused = true;
        return NULL;
    }
    p = malloc(size == 0 ? 1 : size);
    if (p == NULL) {
        ba->nomem = true;
        return NULL;
    }
    ba->used += size;
    return p;
}

static void
bounded_free(void *data, void *ptr)
{
    (void) data;
    free(ptr);
}

/* Rejects fields this version does not know (a newer peer must bump). */
static fl_err_t
no_unknown(const ProtobufCMessage *m, const char *what, fl_errbuf_t *eb)
{
    if (m->n_unknown_fields > 0)
        return fl_fail(eb, FL_ERR_PROTO, "%s: unknown field %u", what,
                       (unsigned) m->unknown_fields[0].tag);
    return FL_OK;
}

/* A submessage that must be present and hold no unknown fields. */
static fl_err_t
need_sub(const void *sub, const char *what, fl_errbuf_t *eb)
{
    if (sub == NULL)
        return fl_fail(eb, FL_ERR_PROTO, "%s: missing", what);
    return no_unknown(sub, what, eb);
}

/* Checks and copies a text into a fixed array of PB_MAX_*_LEN + 1. */
static fl_err_t
take_text(ProtobufCBinaryData b, char *dst, size_t cap, size_t min_len,
          pb__text_kind_t kind, const char *field, fl_errbuf_t *eb)
{
    TRY(pb__check_text(b.data, b.len, min_len, cap - 1, kind, field,
                       FL_ERR_PROTO, eb));
    if (b.len > 0)
        memcpy(dst, b.data, b.len);
    dst[b.len] = '\0';
    return FL_OK;
}

static fl_err_t
take_hash(ProtobufCBinaryData b, uint8_t dst[PB_HASH_LEN], const char *field,
          fl_errbuf_t *eb)
{
    if (b.len != PB_HASH_LEN)
        return fl_fail(eb, FL_ERR_PROTO, "%s: %zu bytes, expected %d", field,
                       b.len, PB_HASH_LEN);
    memcpy(dst, b.data, PB_HASH_LEN);
    return FL_OK;
}

/* Checks the dimension before allocating, then converts. */
static fl_err_t
take_vector(ProtobufCBinaryData b, const pb_limits_t *lim, const char *field,
            float **dst, size_t *n, fl_errbuf_t *eb)
{
    if (b.len % 4 != 0)
        return fl_fail(eb, FL_ERR_PROTO,
                       "%s: %zu bytes, not a whole number of float32", field,
                       b.len);
    TRY(pb__check_dim(b.len / 4, lim, field, FL_ERR_PROTO, eb));
    *dst = malloc(b.len);
    if (*dst == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "%s: out of memory", field);
    *n = b.len / 4;
    pb__floats_from_le(*dst, b.data, *n);
    return FL_OK;
}

static fl_err_t
take_hello(const Dpfl__Hello *in, pb_hello_t *out, fl_errbuf_t *eb)
{
    return take_text(in->software_version, out->software_version,
                     sizeof out->software_version, 1, PB__TEXT_ASCII,
                     "hello.software_version", eb);
}

static fl_err_t
take_welcome(const Dpfl__Welcome *in, pb_welcome_t *out, fl_errbuf_t *eb)
{
    TRY(take_text(in->site_id, out->site_id, sizeof out->site_id, 1,
                  PB__TEXT_SITE_ID, "welcome.site_id", eb));
    return take_text(in->coordinator_version, out->coordinator_version,
                     sizeof out->coordinator_version, 1, PB__TEXT_ASCII,
                     "welcome.coordinator_version", eb);
}

static fl_err_t
take_job_offer(const Dpfl__JobOffer *in, const pb_limits_t *lim,
               pb_job_offer_t *out, fl_errbuf_t *eb)
{
    TRY(take_hash(in->job_hash, out->job_hash, "job_offer.job_hash", eb));
    /* The length before the copy; the content rules in pb__msg_check. */
    TRY(pb__check_text_len(in->job_file.len, 1, lim->max_job_bytes,
                           PB__TEXT_FILE, "job_offer.job_file", FL_ERR_PROTO,
                           eb));
    out->job_file = malloc(in->job_file.len);
    if (out->job_file == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "job_offer.job_file: out of memory");
    memcpy(out->job_file, in->job_file.data, in->job_file.len);
    out->job_file_len = in->job_file.len;
    return FL_OK;
}

static fl_err_t
take_job_answer(const Dpfl__JobAnswer *in, pb_job_answer_t *out,
                fl_errbuf_t *eb)
{
    TRY(take_hash(in->job_hash, out->job_hash, "job_answer.job_hash", eb));
    TRY(take_text(in->text, out->text, sizeof out->text, 0, PB__TEXT_UTF8,
                  "job_answer.text", eb));
    out->accept = in->accept != 0;
    out->reason = (pb_decline_reason_t) in->reason;
    out->dataset_size = in->dataset_size;
    out->epsilon_budget = in->epsilon_budget;
    out->delta = in->delta;
    out->accountant = (pb_accountant_t) in->accountant;
    return FL_OK;
}

static fl_err_t
take_train_request(const Dpfl__TrainRequest *in, const pb_limits_t *lim,
                   pb_train_request_t *out, fl_errbuf_t *eb)
{
    const Dpfl__AuditHead *head = in->audit_head;

    TRY(need_sub(head, "train_request.audit_head", eb));
    TRY(take_hash(head->hash, out->audit_head.hash,
                  "train_request.audit_head.hash", eb));
    out->audit_head.seq = head->seq;
    TRY(take_hash(in->job_hash, out->job_hash, "train_request.job_hash", eb));
    out->round_id = in->round_id;
    out->local_steps = in->local_steps;
    out->learning_rate = in->learning_rate;
    out->deadline_ms = in->deadline_ms;
    return take_vector(in->model, lim, "train_request.model", &out->model,
                       &out->model_dim, eb);
}

static fl_err_t
take_train_result(const Dpfl__TrainResult *in, const pb_limits_t *lim,
                  pb_train_result_t *out, fl_errbuf_t *eb)
{
    const Dpfl__PrivacyReceipt *r = in->receipt;
    pb_receipt_t *o = &out->receipt;

    TRY(need_sub(r, "train_result.receipt", eb));
    TRY(need_sub(r->mechanism, "train_result.receipt.mechanism", eb));
    o->epsilon = r->epsilon;
    o->delta = r->delta;
    o->accountant = (pb_accountant_t) r->accountant;
    o->ledger_seq = r->ledger_seq;
    o->generator = (pb_generator_t) r->generator;
    o->mechanism.sampling_rate = r->mechanism->sampling_rate;
    o->mechanism.noise_multiplier = r->mechanism->noise_multiplier;
    o->mechanism.steps = r->mechanism->steps;
    o->mechanism.clip_norm = r->mechanism->clip_norm;
    out->round_id = in->round_id;
    out->local_steps_done = in->local_steps_done;
    return take_vector(in->update, lim, "train_result.update", &out->update,
                       &out->update_dim, eb);
}

static fl_err_t
take_decline(const Dpfl__Decline *in, pb_decline_t *out, fl_errbuf_t *eb)
{
    out->round_id = in->round_id;
    out->reason = (pb_decline_reason_t) in->reason;
    return take_text(in->text, out->text, sizeof out->text, 0, PB__TEXT_UTF8,
                     "decline.text", eb);
}

static fl_err_t
take_eval_request(const Dpfl__EvalRequest *in, const pb_limits_t *lim,
                  pb_eval_request_t *out, fl_errbuf_t *eb)
{
    out->round_id = in->round_id;
    return take_vector(in->model, lim, "eval_request.model", &out->model,
                       &out->model_dim, eb);
}

static fl_err_t
take_subgroups(const Dpfl__EvalResult *in, pb_eval_result_t *out,
               fl_errbuf_t *eb)
{
    char what[64];

    if (in->n_subgroups > PB_MAX_SUBGROUPS)
        return fl_fail(eb, FL_ERR_LIMIT,
                       "eval_result.subgroups: %zu entries, at most %u",
                       in->n_subgroups, PB_MAX_SUBGROUPS);
    if (in->n_subgroups == 0)
        return FL_OK;
    out->subgroups = calloc(in->n_subgroups, sizeof *out->subgroups);
    if (out->subgroups == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "eval_result.subgroups: no memory");
    out->n_subgroups = in->n_subgroups;
    for (size_t i = 0; i < in->n_subgroups; i++) {
        const Dpfl__SubgroupMetrics *g = in->subgroups[i];
        pb_subgroup_t *o = &out->subgroups[i];

        (void) snprintf(what, sizeof what, "eval_result.subgroups[%zu]", i);
        TRY(no_unknown(&g->base, what, eb));
        TRY(take_text(g->name, o->name, sizeof o->name, 1, PB__TEXT_UTF8, what,
                      eb));
        o->n_examples = g->n_examples;
        o->loss = g->loss;
        o->accuracy = g->accuracy;
        o->has_auroc = g->has_auroc != 0;
        o->auroc = g->auroc;
    }
    return FL_OK;
}

static fl_err_t
take_eval_result(const Dpfl__EvalResult *in, const pb_limits_t *lim,
                 pb_eval_result_t *out, fl_errbuf_t *eb)
{
    size_t cells;

    if (lim->n_classes == 0)
        return fl_fail(eb, FL_ERR_INVALID,
                       "eval_result.n_classes: not set in the limits");
    if (in->n_classes != lim->n_classes)
        return fl_fail(eb, FL_ERR_PROTO,
                       "eval_result.n_classes: %u, expected %u",
                       (unsigned) in->n_classes, (unsigned) lim->n_classes);
    cells = (size_t) lim->n_classes * lim->n_classes;
    if (in->n_confusion != cells)
        return fl_fail(eb, FL_ERR_PROTO,
                       "eval_result.confusion: %zu counts, expected %u x %u",
                       in->n_confusion, (unsigned) lim->n_classes,
                       (unsigned) lim->n_classes);
    out->confusion = malloc(cells * sizeof *out->confusion);
    if (out->confusion == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "eval_result.confusion: no memory");
    memcpy(out->confusion, in->confusion, cells * sizeof *out->confusion);
    out->n_classes = in->n_classes;
    out->round_id = in->round_id;
    out->n_examples = in->n_examples;
    out->loss = in->loss;
    out->accuracy = in->accuracy;
    out->has_auroc = in->has_auroc != 0;
    out->auroc = in->auroc;
    return take_subgroups(in, out, eb);
}

/* The body's own unknown fields, then its conversion. */
static fl_err_t
take_body(const Dpfl__Envelope *env, const pb_limits_t *lim, pb_msg_t *out,
          fl_errbuf_t *eb)
{
    switch (env->body_case) {
    case DPFL__ENVELOPE__BODY_HELLO:
        TRY(need_sub(env->hello, "hello", eb));
        return take_hello(env->hello, &out->u.hello, eb);
    case DPFL__ENVELOPE__BODY_WELCOME:
        TRY(need_sub(env->welcome, "welcome", eb));
        return take_welcome(env->welcome, &out->u.welcome, eb);
    case DPFL__ENVELOPE__BODY_JOB_OFFER:
        TRY(need_sub(env->job_offer, "job_offer", eb));
        return take_job_offer(env->job_offer, lim, &out->u.job_offer, eb);
    case DPFL__ENVELOPE__BODY_JOB_ANSWER:
        TRY(need_sub(env->job_answer, "job_answer", eb));
        return take_job_answer(env->job_answer, &out->u.job_answer, eb);
    case DPFL__ENVELOPE__BODY_TRAIN_REQUEST:
        TRY(need_sub(env->train_request, "train_request", eb));
        return take_train_request(env->train_request, lim,
                                  &out->u.train_request, eb);
    case DPFL__ENVELOPE__BODY_TRAIN_RESULT:
        TRY(need_sub(env->train_result, "train_result", eb));
        return take_train_result(env->train_result, lim, &out->u.train_result,
                                 eb);
    case DPFL__ENVELOPE__BODY_DECLINE:
        TRY(need_sub(env->decline, "decline", eb));
        return take_decline(env->decline, &out->u.decline, eb);
    case DPFL__ENVELOPE__BODY_EVAL_REQUEST:
        TRY(need_sub(env->eval_request, "eval_request", eb));
        return take_eval_request(env->eval_request, lim, &out->u.eval_request,
                                 eb);
    case DPFL__ENVELOPE__BODY_EVAL_RESULT:
        TRY(need_sub(env->eval_result, "eval_result", eb));
        return take_eval_result(env->eval_result, lim, &out->u.eval_result, eb);
    case DPFL__ENVELOPE__BODY_ERROR:
        TRY(need_sub(env->error, "error", eb));
        out->u.error.code = (pb_error_code_t) env->error->code;
        return take_text(env->error->text, out->u.error.text,
                         sizeof out->u.error.text, 0, PB__TEXT_UTF8,
                         "error.text", eb);
    case DPFL__ENVELOPE__BODY_BYE:
        TRY(need_sub(env->bye, "bye", eb));
        out->u.bye.reason = (pb_bye_reason_t) env->bye->reason;
        return take_text(env->bye->text, out->u.bye.text,
                         sizeof out->u.bye.text, 0, PB__TEXT_UTF8, "bye.text",
                         eb);
    default:
        break;
    }
    return fl_fail(eb, FL_ERR_PROTO, "envelope.body: missing or unknown");
}

static fl_err_t
take_envelope(const Dpfl__Envelope *env, const pb_limits_t *lim, pb_msg_t *out,
              fl_errbuf_t *eb)
{
    if (env->version != PB_PROTOCOL_VERSION)
        return fl_fail(eb, FL_ERR_UNSUPPORTED,
                       "envelope.version: %u, this build speaks %u",
                       (unsigned) env->version, PB_PROTOCOL_VERSION);
    /* Unknown fields of the envelope itself include unknown bodies. */
    if (env->body_case == DPFL__ENVELOPE__BODY__NOT_SET)
        return fl_fail(eb, FL_ERR_PROTO, "envelope.body: missing or unknown%s",
                       env->base.n_unknown_fields > 0 ? " message type" : "");
    TRY(no_unknown(&env->base, "envelope", eb));
    if (env->msg_id == 0)
        return fl_fail(eb, FL_ERR_PROTO, "envelope.msg_id: must be non-zero");
    out->msg_id = env->msg_id;
    out->in_reply_to = env->in_reply_to;
    /* Set the type first so that cleanup frees what the body took. */
    out->type = (pb_type_t) env->body_case;
    return take_body(env, lim, out, eb);
}

static fl_err_t
check_limits(const pb_limits_t *lim, fl_errbuf_t *eb)
{
    if (lim->max_message_bytes == 0 ||
        lim->max_message_bytes > PB_MAX_MESSAGE_HARD)
        return fl_fail(eb, FL_ERR_INVALID,
                       "limits: max_message_bytes %zu not in 1..%zu",
                       lim->max_message_bytes, PB_MAX_MESSAGE_HARD);
    if (lim->max_job_bytes == 0 || lim->max_job_bytes > PB_MAX_MESSAGE_HARD)
        return fl_fail(eb, FL_ERR_INVALID,
                       "limits: max_job_bytes %zu not in 1..%zu",
                       lim->max_job_bytes, PB_MAX_MESSAGE_HARD);
    if (lim->model_dim > PB_MAX_MODEL_DIM)
        return fl_fail(eb, FL_ERR_INVALID, "limits: model_dim %zu above %zu",
                       lim->model_dim, PB_MAX_MODEL_DIM);
    if (lim->n_classes == 1 || lim->n_classes > PB_MAX_CLASSES)
        return fl_fail(eb, FL_ERR_INVALID,
                       "limits: n_classes %u not 0 or in 2..%u",
                       (unsigned) lim->n_classes, PB_MAX_CLASSES);
    return FL_OK;
}

/* At most about 2 * 256 MiB + 48 MB: no overflow on 64-bit size_t. */
static size_t
alloc_budget(size_t len, const pb_limits_t *lim)
{
    size_t cells = (size_t) lim->n_classes * lim->n_classes;

    return PB__ALLOC_FACTOR * len + PB__ALLOC_SLACK +
           cells * PB__ALLOC_PER_CELL +
           (size_t) PB_MAX_SUBGROUPS * PB__ALLOC_PER_SUBGROUP;
}

fl_err_t
pb_envelope_decode(const uint8_t *buf, size_t len, const pb_limits_t *lim,
                   pb_msg_t *out, fl_errbuf_t *eb)
{
    bounded_alloc_t ba = {0};
    ProtobufCAllocator alloc = {bounded_alloc, bounded_free, &ba};
    Dpfl__Envelope *env = NULL;
    fl_err_t err;

    if (out == NULL || lim == NULL || (buf == NULL && len > 0))
        return fl_fail(eb, FL_ERR_INVALID, "envelope: NULL argument");
    memset(out, 0, sizeof *out);
    out->type = PB_NONE;
    err = check_limits(lim, eb);
    if (err != FL_OK)
        goto out;
    if (len > lim->max_message_bytes) {
        err = fl_fail(eb, FL_ERR_LIMIT, "envelope: %zu bytes, at most %zu", len,
                      lim->max_message_bytes);
        goto out;
    }
    if (len == 0) {
        err = fl_fail(eb, FL_ERR_PARSE, "envelope: empty");
        goto out;
    }
    ba.budget = alloc_budget(len, lim);
    env = dpfl__envelope__unpack(&alloc, len, buf);
    if (env == NULL) {
        if (ba.refused)
            err = fl_fail(eb, FL_ERR_LIMIT,
                          "envelope: decoding %zu bytes needs more than %zu "
                          "bytes of memory",
                          len, ba.budget);
        else if (ba.nomem)
            err = fl_fail(eb, FL_ERR_NOMEM, "envelope: out of memory");
        else
            err = fl_fail(eb, FL_ERR_PARSE,
                          "envelope: %zu bytes are not a valid Envelope", len);
        goto out;
    }
    err = take_envelope(env, lim, out, eb);
    if (err == FL_OK)
        err = pb__msg_check(out, lim, FL_ERR_PROTO, eb);
out:
    if (env != NULL)
        dpfl__envelope__free_unpacked(env, &alloc);
    if (err != FL_OK)
        pb_msg_cleanup(out);
    return err;
}
