/*
 * proto/codec_encode.c: pb_msg_t -> Envelope bytes. The plain struct is
 * checked with the same rules as a decoded one (codec_check.c), then
 * mapped onto protobuf-c structs that borrow its memory, and packed.
 */
#include "proto/codec_internal.h"

#include "dpfl.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The wire values of proto/dpfl.proto are the values of proto/codec.h. */
_Static_assert((int) PB_HELLO == DPFL__ENVELOPE__BODY_HELLO &&
                   (int) PB_BYE == DPFL__ENVELOPE__BODY_BYE &&
                   (int) PB_EVAL_RESULT == DPFL__ENVELOPE__BODY_EVAL_RESULT,
               "body numbers");
_Static_assert((int) PB_ACCOUNTANT_RDP == DPFL__ACCOUNTANT__ACCOUNTANT_RDP &&
                   (int) PB_ACCOUNTANT_PLD ==
                       DPFL__ACCOUNTANT__ACCOUNTANT_PLD &&
                   (int) PB_ACCOUNTANT_NONE ==
                       DPFL__ACCOUNTANT__ACCOUNTANT_NONE,
               "accountant values");
_Static_assert((int) PB_GENERATOR_SEEDED == DPFL__GENERATOR__GENERATOR_SEEDED,
               "generator values");
_Static_assert((int) PB_DECLINE_ERROR == DPFL__DECLINE_REASON__DECLINE_ERROR,
               "decline values");
_Static_assert((int) PB_ERROR_INTERNAL == DPFL__ERROR_CODE__ERROR_INTERNAL,
               "error values");
_Static_assert((int) PB_BYE_ERROR == DPFL__BYE_REASON__BYE_ERROR, "bye values");

/* Storage for one Envelope's protobuf-c structs, borrowing msg's memory. */
typedef struct wire {
    Dpfl__Envelope env;
    union {
        Dpfl__Hello hello;
        Dpfl__Welcome welcome;
        Dpfl__JobOffer job_offer;
        Dpfl__JobAnswer job_answer;
        Dpfl__TrainRequest train_request;
        Dpfl__TrainResult train_result;
        Dpfl__Decline decline;
        Dpfl__EvalRequest eval_request;
        Dpfl__EvalResult eval_result;
        Dpfl__Error error;
        Dpfl__Bye bye;
    } b;
    Dpfl__AuditHead head;
    Dpfl__PrivacyReceipt receipt;
    Dpfl__Mechanism mech;
    uint8_t *floats;               /* owned: little-endian vector */
    Dpfl__SubgroupMetrics *groups; /* owned */
    Dpfl__SubgroupMetrics **gptrs; /* owned */
} wire_t;

/* Borrows a NUL-terminated text held in an array of size cap. */
static fl_err_t
put_text(const char *s, size_t cap, ProtobufCBinaryData *b, const char *field,
         fl_errbuf_t *eb)
{
    const char *end = memchr(s, '\0', cap);

    if (end == NULL)
        return fl_fail(eb, FL_ERR_INVALID, "%s: not terminated", field);
    b->len = (size_t) (end - s);
    b->data = (uint8_t *) (uintptr_t) s;
    return FL_OK;
}

static void
put_bytes(const uint8_t *p, size_t n, ProtobufCBinaryData *b)
{
    b->len = n;
    b->data = (uint8_t *) (uintptr_t) p;
}

/* Converts a vector to little-endian bytes owned by w. */
static fl_err_t
put_vector(wire_t *w, const float *v, size_t n, ProtobufCBinaryData *b,
           const char *field, fl_errbuf_t *eb)
{
    if (n > PB_MAX_MODEL_DIM)
        return fl_fail(eb, FL_ERR_LIMIT, "%s: %zu floats, at most %zu", field,
                       n, PB_MAX_MODEL_DIM);
    if (n > 0 && v == NULL)
        return fl_fail(eb, FL_ERR_INVALID, "%s: no data", field);
    w->floats = malloc(n == 0 ? 1 : 4 * n);
    if (w->floats == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "%s: out of memory", field);
    pb__floats_to_le(w->floats, v, n);
    put_bytes(w->floats, 4 * n, b);
    return FL_OK;
}

static fl_err_t
put_job(wire_t *w, const pb_msg_t *msg, fl_errbuf_t *eb)
{
    if (msg->type == PB_JOB_OFFER) {
        const pb_job_offer_t *m = &msg->u.job_offer;

        dpfl__job_offer__init(&w->b.job_offer);
        if (m->job_file == NULL && m->job_file_len > 0)
            return fl_fail(eb, FL_ERR_INVALID, "job_offer.job_file: no data");
        put_bytes(m->job_file, m->job_file_len, &w->b.job_offer.job_file);
        put_bytes(m->job_hash, PB_HASH_LEN, &w->b.job_offer.job_hash);
        w->env.job_offer = &w->b.job_offer;
    } else {
        const pb_job_answer_t *m = &msg->u.job_answer;
        Dpfl__JobAnswer *a = &w->b.job_answer;

        dpfl__job_answer__init(a);
        put_bytes(m->job_hash, PB_HASH_LEN, &a->job_hash);
        a->accept = m->accept;
        a->reason = (Dpfl__DeclineReason) m->reason;
        TRY(put_text(m->text, sizeof m->text, &a->text, "job_answer.text", eb));
        a->dataset_size = m->dataset_size;
        a->epsilon_budget = m->epsilon_budget;
        a->delta = m->delta;
        a->accountant = (Dpfl__Accountant) m->accountant;
        w->env.job_answer = a;
    }
    return FL_OK;
}

static fl_err_t
put_train_request(wire_t *w, const pb_train_request_t *m, fl_errbuf_t *eb)
{
    Dpfl__TrainRequest *t = &w->b.train_request;

    dpfl__train_request__init(t);
    dpfl__audit_head__init(&w->head);
    t->round_id = m->round_id;
    put_bytes(m->job_hash, PB_HASH_LEN, &t->job_hash);
    t->local_steps = m->local_steps;
    t->learning_rate = m->learning_rate;
    t->deadline_ms = m->deadline_ms;
    w->head.seq = m->audit_head.seq;
    put_bytes(m->audit_head.hash, PB_HASH_LEN, &w->head.hash);
    t->audit_head = &w->head;
    w->env.train_request = t;
    return put_vector(w, m->model, m->model_dim, &t->model,
                      "train_request.model", eb);
}

static fl_err_t
put_train_result(wire_t *w, const pb_train_result_t *m, fl_errbuf_t *eb)
{
    Dpfl__TrainResult *t = &w->b.train_result;
    const pb_receipt_t *r = &m->receipt;

    dpfl__train_result__init(t);
    dpfl__privacy_receipt__init(&w->receipt);
    dpfl__mechanism__init(&w->mech);
    t->round_id = m->round_id;
    t->local_steps_done = m->local_steps_done;
    w->receipt.epsilon = r->epsilon;
    w->receipt.delta = r->delta;
    w->receipt.accountant = (Dpfl__Accountant) r->accountant;
    w->receipt.ledger_seq = r->ledger_seq;
    w->receipt.generator = (Dpfl__Generator) r->generator;
    w->mech.sampling_rate = r->mechanism.sampling_rate;
    w->mech.noise_multiplier = r->mechanism.noise_multiplier;
    w->mech.steps = r->mechanism.steps;
    w->mech.clip_norm = r->mechanism.clip_norm;
    w->receipt.mechanism = &w->mech;
    t->receipt = &w->receipt;
    w->env.train_result = t;
    return put_vector(w, m->update, m->update_dim, &t->update,
                      "train_result.update", eb);
}

static fl_err_t
put_subgroups(wire_t *w, const pb_eval_result_t *m, Dpfl__EvalResult *e,
              fl_errbuf_t *eb)
{
    /* Structure only: the count rule is checked by pb__msg_check. */
    if (m->n_subgroups > ((size_t) 1 << 20))
        return fl_fail(eb, FL_ERR_LIMIT, "eval_result.subgroups: too many");
    if (m->n_subgroups == 0)
        return FL_OK;
    if (m->subgroups == NULL)
        return fl_fail(eb, FL_ERR_INVALID, "eval_result.subgroups: no data");
    w->groups = calloc(m->n_subgroups, sizeof *w->groups);
    w->gptrs = calloc(m->n_subgroups, sizeof *w->gptrs);
    if (w->groups == NULL || w->gptrs == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "eval_result.subgroups: no memory");
    for (size_t i = 0; i < m->n_subgroups; i++) {
        const pb_subgroup_t *g = &m->subgroups[i];
        Dpfl__SubgroupMetrics *o = &w->groups[i];

        dpfl__subgroup_metrics__init(o);
        TRY(put_text(g->name, sizeof g->name, &o->name,
                     "eval_result.subgroups.name", eb));
        o->n_examples = g->n_examples;
        o->loss = g->loss;
        o->accuracy = g->accuracy;
        o->has_auroc = g->has_auroc;
        o->auroc = g->auroc;
        w->gptrs[i] = o;
    }
    e->n_subgroups = m->n_subgroups;
    e->subgroups = w->gptrs;
    return FL_OK;
}

static fl_err_t
put_eval_result(wire_t *w, const pb_eval_result_t *m, fl_errbuf_t *eb)
{
    Dpfl__EvalResult *e = &w->b.eval_result;

    dpfl__eval_result__init(e);
    if (m->n_classes > PB_MAX_CLASSES)
        return fl_fail(eb, FL_ERR_INVALID, "eval_result.n_classes: %u above %u",
                       (unsigned) m->n_classes, PB_MAX_CLASSES);
    if (m->n_classes > 0 && m->confusion == NULL)
        return fl_fail(eb, FL_ERR_INVALID, "eval_result.confusion: no data");
    e->round_id = m->round_id;
    e->n_examples = m->n_examples;
    e->loss = m->loss;
    e->accuracy = m->accuracy;
    e->has_auroc = m->has_auroc;
    e->auroc = m->auroc;
    e->n_classes = m->n_classes;
    e->n_confusion = (size_t) m->n_classes * m->n_classes;
    e->confusion = (uint64_t *) (uintptr_t) m->confusion;
    w->env.eval_result = e;
    return put_subgroups(w, m, e, eb);
}

static fl_err_t
put_small(wire_t *w, const pb_msg_t *msg, fl_errbuf_t *eb)
{
    const pb_welcome_t *wel = &msg->u.welcome;

    switch (msg->type) {
    case PB_HELLO:
        dpfl__hello__init(&w->b.hello);
        w->env.hello = &w->b.hello;
        return put_text(
            msg->u.hello.software_version, sizeof msg->u.hello.software_version,
            &w->b.hello.software_version, "hello.software_version", eb);
    case PB_WELCOME:
        dpfl__welcome__init(&w->b.welcome);
        w->env.welcome = &w->b.welcome;
        TRY(put_text(wel->site_id, sizeof wel->site_id, &w->b.welcome.site_id,
                     "welcome.site_id", eb));
        return put_text(wel->coordinator_version,
                        sizeof wel->coordinator_version,
                        &w->b.welcome.coordinator_version,
                        "welcome.coordinator_version", eb);
    case PB_DECLINE:
        dpfl__decline__init(&w->b.decline);
        w->env.decline = &w->b.decline;
        w->b.decline.round_id = msg->u.decline.round_id;
        w->b.decline.reason = (Dpfl__DeclineReason) msg->u.decline.reason;
        return put_text(msg->u.decline.text, sizeof msg->u.decline.text,
                        &w->b.decline.text, "decline.text", eb);
    case PB_ERROR:
        dpfl__error__init(&w->b.error);
        w->env.error = &w->b.error;
        w->b.error.code = (Dpfl__ErrorCode) msg->u.error.code;
        return put_text(msg->u.error.text, sizeof msg->u.error.text,
                        &w->b.error.text, "error.text", eb);
    default: /* PB_BYE, the only other small body */
        dpfl__bye__init(&w->b.bye);
        w->env.bye = &w->b.bye;
        w->b.bye.reason = (Dpfl__ByeReason) msg->u.bye.reason;
        return put_text(msg->u.bye.text, sizeof msg->u.bye.text, &w->b.bye.text,
                        "bye.text", eb);
    }
}

static fl_err_t
put_body(wire_t *w, const pb_msg_t *msg, fl_errbuf_t *eb)
{
    switch (msg->type) {
    case PB_HELLO:
    case PB_WELCOME:
    case PB_DECLINE:
    case PB_ERROR:
    case PB_BYE:
        return put_small(w, msg, eb);
    case PB_JOB_OFFER:
    case PB_JOB_ANSWER:
        return put_job(w, msg, eb);
    case PB_TRAIN_REQUEST:
        return put_train_request(w, &msg->u.train_request, eb);
    case PB_TRAIN_RESULT:
        return put_train_result(w, &msg->u.train_result, eb);
    case PB_EVAL_REQUEST:
        dpfl__eval_request__init(&w->b.eval_request);
        w->b.eval_request.round_id = msg->u.eval_request.round_id;
        w->env.eval_request = &w->b.eval_request;
        return put_vector(w, msg->u.eval_request.model,
                          msg->u.eval_request.model_dim,
                          &w->b.eval_request.model, "eval_request.model", eb);
    case PB_EVAL_RESULT:
        return put_eval_result(w, &msg->u.eval_result, eb);
    case PB_NONE:
        break;
    }
    return fl_fail(eb, FL_ERR_INVALID, "envelope: no known body (type %d)",
                   (int) msg->type);
}

fl_err_t
pb__envelope_encode_unchecked(const pb_msg_t *msg, uint32_t version,
                              uint8_t **out, size_t *len, fl_errbuf_t *eb)
{
    wire_t w;
    size_t size;
    fl_err_t err;

    if (out == NULL || len == NULL)
        return fl_fail(eb, FL_ERR_INVALID, "envelope: NULL argument");
    *out = NULL;
    *len = 0;
    if (msg == NULL)
        return fl_fail(eb, FL_ERR_INVALID, "envelope: NULL argument");
    memset(&w, 0, sizeof w);
    dpfl__envelope__init(&w.env);
    w.env.version = version;
    w.env.msg_id = msg->msg_id;
    w.env.in_reply_to = msg->in_reply_to;
    w.env.body_case = (Dpfl__Envelope__BodyCase) msg->type;
    err = put_body(&w, msg, eb);
    if (err != FL_OK)
        goto out;
    size = dpfl__envelope__get_packed_size(&w.env);
    if (size > PB_MAX_MESSAGE_HARD) {
        err = fl_fail(eb, FL_ERR_LIMIT, "envelope: %zu bytes, at most %zu",
                      size, PB_MAX_MESSAGE_HARD);
        goto out;
    }
    *out = malloc(size == 0 ? 1 : size);
    if (*out == NULL) {
        err = fl_fail(eb, FL_ERR_NOMEM, "envelope: out of memory");
        goto out;
    }
    if (dpfl__envelope__pack(&w.env, *out) != size) {
        free(*out);
        *out = NULL;
        err = fl_fail(eb, FL_ERR_INTERNAL, "envelope: packed size changed");
        goto out;
    }
    *len = size;
out:
    free(w.floats);
    free(w.groups);
    free(w.gptrs);
    return err;
}

/* The vector length or class count msg carries, as limits for its check. */
static void
self_limits(const pb_msg_t *msg, pb_limits_t *lim)
{
    pb_limits_default(lim);
    lim->max_message_bytes = PB_MAX_MESSAGE_HARD;
    lim->max_job_bytes = PB_MAX_MESSAGE_HARD;
    if (msg->type == PB_TRAIN_REQUEST)
        lim->model_dim = msg->u.train_request.model_dim;
    else if (msg->type == PB_TRAIN_RESULT)
        lim->model_dim = msg->u.train_result.update_dim;
    else if (msg->type == PB_EVAL_REQUEST)
        lim->model_dim = msg->u.eval_request.model_dim;
    else if (msg->type == PB_EVAL_RESULT)
        lim->n_classes = msg->u.eval_result.n_classes;
}

fl_err_t
pb_envelope_encode(const pb_msg_t *msg, uint8_t **out, size_t *len,
                   fl_errbuf_t *eb)
{
    pb_limits_t lim;
    fl_err_t err;

    if (out == NULL || len == NULL || msg == NULL)
        return fl_fail(eb, FL_ERR_INVALID, "envelope: NULL argument");
    *out = NULL;
    *len = 0;
    self_limits(msg, &lim);
    if (lim.model_dim > PB_MAX_MODEL_DIM)
        return fl_fail(eb, FL_ERR_LIMIT, "%s: %zu floats, at most %zu",
                       pb_type_name(msg->type), lim.model_dim,
                       PB_MAX_MODEL_DIM);
    if (msg->type == PB_EVAL_RESULT &&
        (lim.n_classes < 2 || lim.n_classes > PB_MAX_CLASSES))
        return fl_fail(eb, FL_ERR_INVALID,
                       "eval_result.n_classes: %u not in 2..%u",
                       (unsigned) lim.n_classes, PB_MAX_CLASSES);
    err = pb__msg_check(msg, &lim, FL_ERR_INVALID, eb);
    if (err != FL_OK)
        return err;
    return pb__envelope_encode_unchecked(msg, PB_PROTOCOL_VERSION, out, len,
                                         eb);
}
