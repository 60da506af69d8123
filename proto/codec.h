/*
 * proto/codec.h: the validating codec of dpfl's wire messages (pb_).
 *
 * Every application message is one protobuf `Envelope` (proto/dpfl.proto):
 * a protocol version, a message id, the id it answers, and exactly one
 * body. This codec is the only door between those bytes and the rest of
 * dpfl: nothing outside proto/ sees a protobuf-c type.
 *
 * Decoding takes untrusted bytes. It enforces a size limit, unpacks them
 * with an allocator that refuses to allocate more than a budget
 * proportional to the input, then checks every field (version, enum
 * ranges, vector lengths against the job's model dimension, finite floats,
 * ids, text lengths and UTF-8, counts of repeated fields; the limits are in
 * docs/protocol.md) and hands back a plain struct, pb_msg_t. On failure it
 * returns an fl_err_t and writes "field: reason" into the fl_errbuf_t, e.g.
 * "train_result.update: 120 floats, expected 514".
 *
 * Error codes of the decoders:
 *   FL_ERR_PARSE        not a protobuf Envelope (truncated, garbage)
 *   FL_ERR_LIMIT        input larger than lim->max_message_bytes, decoding
 *                       would need more memory than its budget, or a text,
 *                       byte string or repeated field is too long
 *   FL_ERR_UNSUPPORTED  Envelope.version is not PB_PROTOCOL_VERSION
 *   FL_ERR_PROTO        a field is missing, unknown or out of range
 *   FL_ERR_INVALID      bad arguments (NULL pointers, limits out of range,
 *                       model_dim or n_classes needed but 0)
 *   FL_ERR_NOMEM        out of memory
 *
 * Thread-safety: every function is reentrant; distinct objects may be used
 * from distinct threads at once.
 */
#ifndef PB_CODEC_H
#define PB_CODEC_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The protocol version this build speaks (Envelope.version). */
#define PB_PROTOCOL_VERSION 1u

/* Limits that do not depend on the job (docs/protocol.md lists them). */
#define PB_MAX_MESSAGE_DEFAULT ((size_t) 16 << 20) /* one Envelope, bytes */
#define PB_MAX_MESSAGE_HARD ((size_t) 256 << 20)   /* max of the above */
#define PB_MAX_JOB_DEFAULT ((size_t) 256 << 10)    /* = PB_JOB_MAX_BYTES */
#define PB_MAX_VERSION_LEN 64 /* software versions, printable ASCII */
#define PB_MAX_SITE_ID_LEN 64 /* site ids: [A-Za-z0-9._-] */
#define PB_MAX_TEXT_LEN 256   /* free texts: printable UTF-8 */
#define PB_MAX_NAME_LEN 64    /* subgroup names: printable UTF-8 */
#define PB_HASH_LEN 32        /* SHA-256 */
#define PB_MAX_LOCAL_STEPS 1000000u
#define PB_MAX_DEADLINE_MS ((uint64_t) 7 * 24 * 3600 * 1000) /* one week */
#define PB_MAX_DATASET_SIZE ((uint64_t) 1 << 40)
#define PB_MAX_CLASSES 1000u /* wire limit; jobs allow PB_JOB_MAX_CLASSES */
#define PB_MAX_SUBGROUPS 64u
#define PB_MAX_MODEL_DIM ((size_t) 1 << 26) /* floats; 256 MiB of wire */

/*
 * Limits that depend on the job and the deployment, passed to every decode.
 * Fill with pb_limits_default() then set what the job defines.
 */
typedef struct pb_limits {
    /* Largest Envelope accepted, bytes: 1..PB_MAX_MESSAGE_HARD. */
    size_t max_message_bytes;
    /*
     * Largest job file in a JobOffer, bytes: 1..PB_MAX_MESSAGE_HARD (the
     * message limit applies as well).
     */
    size_t max_job_bytes;
    /*
     * Floats in a model or an update (TrainRequest.model,
     * TrainResult.update, EvalRequest.model): 1..PB_MAX_MODEL_DIM, or 0
     * when no job is known yet, in which case these messages are rejected
     * with FL_ERR_INVALID.
     */
    size_t model_dim;
    /*
     * Classes of the job's label (EvalResult.n_classes, the confusion
     * matrix is n_classes x n_classes): 2..PB_MAX_CLASSES, or 0 when no job
     * is known yet (an EvalResult is then rejected with FL_ERR_INVALID).
     */
    uint32_t n_classes;
} pb_limits_t;

/* Message types; the values are the Envelope field numbers of the body. */
typedef enum pb_type {
    PB_NONE = 0, /* no body: only in a cleaned-up pb_msg_t */
    PB_HELLO = 10,
    PB_WELCOME = 11,
    PB_JOB_OFFER = 12,
    PB_JOB_ANSWER = 13,
    PB_TRAIN_REQUEST = 14,
    PB_TRAIN_RESULT = 15,
    PB_DECLINE = 16,
    PB_EVAL_REQUEST = 17,
    PB_EVAL_RESULT = 18,
    PB_ERROR = 19,
    PB_BYE = 20
} pb_type_t;

/* Enumerations: the values are the wire values of proto/dpfl.proto. */
typedef enum pb_accountant {
    PB_ACCOUNTANT_RDP = 1,
    PB_ACCOUNTANT_PLD = 2,
    PB_ACCOUNTANT_NONE = 3 /* training without DP (explicit flag only) */
} pb_accountant_t;

typedef enum pb_generator {
    PB_GENERATOR_SECURE = 1,
    PB_GENERATOR_SEEDED = 2
} pb_generator_t;

typedef enum pb_decline_reason {
    PB_DECLINE_NONE = 0, /* only on an accepting JobAnswer */
    PB_DECLINE_BUDGET_EXHAUSTED = 1,
    PB_DECLINE_POLICY = 2,
    PB_DECLINE_BUSY = 3,
    PB_DECLINE_ERROR = 4
} pb_decline_reason_t;

typedef enum pb_error_code {
    PB_ERROR_MALFORMED = 1,
    PB_ERROR_PROTOCOL = 2,
    PB_ERROR_UNAUTHORISED = 3,
    PB_ERROR_UNSUPPORTED = 4,
    PB_ERROR_LIMIT = 5,
    PB_ERROR_STALE = 6,
    PB_ERROR_INTERNAL = 7
} pb_error_code_t;

typedef enum pb_bye_reason {
    PB_BYE_SHUTDOWN = 1,
    PB_BYE_JOB_DONE = 2,
    PB_BYE_BUDGET_EXHAUSTED = 3,
    PB_BYE_POLICY = 4,
    PB_BYE_ERROR = 5
} pb_bye_reason_t;

/*
 * Bodies. Texts are NUL-terminated in fixed arrays (no allocation); the
 * only heap members are marked "owned" and are freed by pb_msg_cleanup().
 */
typedef struct pb_hello {
    char software_version[PB_MAX_VERSION_LEN + 1];
} pb_hello_t;

typedef struct pb_welcome {
    char site_id[PB_MAX_SITE_ID_LEN + 1];
    char coordinator_version[PB_MAX_VERSION_LEN + 1];
} pb_welcome_t;

typedef struct pb_job_offer {
    uint8_t *job_file; /* owned; job_file_len bytes, not NUL-terminated */
    size_t job_file_len;
    uint8_t job_hash[PB_HASH_LEN]; /* checked: SHA-256 of job_file */
} pb_job_offer_t;

typedef struct pb_job_answer {
    uint8_t job_hash[PB_HASH_LEN];
    bool accept;
    pb_decline_reason_t reason; /* PB_DECLINE_NONE iff accept */
    char text[PB_MAX_TEXT_LEN + 1];
    /* Only meaningful (and only checked) when accept is true. */
    uint64_t dataset_size; /* 1..PB_MAX_DATASET_SIZE */
    double epsilon_budget; /* finite > 0; +inf only with ACCOUNTANT_NONE */
    double delta;          /* in (0, 1) */
    pb_accountant_t accountant;
} pb_job_answer_t;

typedef struct pb_audit_head {
    uint64_t seq;
    uint8_t hash[PB_HASH_LEN];
} pb_audit_head_t;

typedef struct pb_train_request {
    uint64_t round_id; /* >= 1 */
    uint8_t job_hash[PB_HASH_LEN];
    float *model; /* owned; model_dim finite floats */
    size_t model_dim;
    uint32_t local_steps; /* 1..PB_MAX_LOCAL_STEPS */
    double learning_rate; /* 0 = the job's; else finite > 0 */
    uint64_t deadline_ms; /* from receipt: 1..PB_MAX_DEADLINE_MS */
    pb_audit_head_t audit_head;
} pb_train_request_t;

typedef struct pb_mechanism {
    double sampling_rate;    /* in (0, 1] */
    double noise_multiplier; /* finite > 0; 0 only with ACCOUNTANT_NONE */
    uint32_t steps;          /* 1..PB_MAX_LOCAL_STEPS */
    double clip_norm;        /* finite > 0 */
} pb_mechanism_t;

typedef struct pb_receipt {
    double epsilon; /* finite >= 0; +inf only with ACCOUNTANT_NONE */
    double delta;   /* in [0, 1) */
    pb_accountant_t accountant;
    pb_mechanism_t mechanism;
    uint64_t ledger_seq;
    pb_generator_t generator;
} pb_receipt_t;

typedef struct pb_train_result {
    uint64_t round_id; /* >= 1 */
    float *update;     /* owned; update_dim finite floats */
    size_t update_dim;
    uint32_t local_steps_done; /* 1..PB_MAX_LOCAL_STEPS */
    pb_receipt_t receipt;
} pb_train_result_t;

typedef struct pb_decline {
    uint64_t round_id;          /* >= 1 */
    pb_decline_reason_t reason; /* not PB_DECLINE_NONE */
    char text[PB_MAX_TEXT_LEN + 1];
} pb_decline_t;

typedef struct pb_eval_request {
    uint64_t round_id; /* >= 1 */
    float *model;      /* owned; model_dim finite floats */
    size_t model_dim;
} pb_eval_request_t;

typedef struct pb_subgroup {
    char name[PB_MAX_NAME_LEN + 1]; /* non-empty, unique in the result */
    uint64_t n_examples;
    double loss;     /* finite >= 0 */
    double accuracy; /* in [0, 1] */
    bool has_auroc;  /* two classes only */
    double auroc;    /* in [0, 1] */
} pb_subgroup_t;

typedef struct pb_eval_result {
    uint64_t round_id;   /* >= 1 */
    uint64_t n_examples; /* = the sum of the confusion matrix */
    double loss;         /* finite >= 0 */
    double accuracy;     /* in [0, 1] */
    bool has_auroc;      /* two classes only */
    double auroc;        /* in [0, 1] */
    uint32_t n_classes;  /* = lim->n_classes */
    /* owned; n_classes * n_classes counts, row = true, column = predicted */
    uint64_t *confusion;
    pb_subgroup_t *subgroups; /* owned; n_subgroups entries */
    size_t n_subgroups;       /* 0..PB_MAX_SUBGROUPS */
} pb_eval_result_t;

typedef struct pb_error {
    pb_error_code_t code;
    char text[PB_MAX_TEXT_LEN + 1];
} pb_error_t;

typedef struct pb_bye {
    pb_bye_reason_t reason;
    char text[PB_MAX_TEXT_LEN + 1];
} pb_bye_t;

/* One decoded (or to-be-encoded) Envelope: a tagged union on type. */
typedef struct pb_msg {
    uint64_t msg_id;      /* non-zero, unique per sender */
    uint64_t in_reply_to; /* the msg_id answered; 0 if none */
    pb_type_t type;
    union {
        pb_hello_t hello;
        pb_welcome_t welcome;
        pb_job_offer_t job_offer;
        pb_job_answer_t job_answer;
        pb_train_request_t train_request;
        pb_train_result_t train_result;
        pb_decline_t decline;
        pb_eval_request_t eval_request;
        pb_eval_result_t eval_result;
        pb_error_t error;
        pb_bye_t bye;
    } u;
} pb_msg_t;

/*
 * Fills lim with the defaults: PB_MAX_MESSAGE_DEFAULT, PB_MAX_JOB_DEFAULT,
 * model_dim 0 and n_classes 0 (no job known). Never fails.
 */
void pb_limits_default(pb_limits_t *lim);

/*
 * Reads msg_id and in_reply_to from an encoded Envelope without a full
 * decode, for retransmission and duplicate detection. Walks the top-level
 * fields only (O(len), no allocation); validates only what it reads: the
 * wire structure of the top level, msg_id present and non-zero, len at most
 * PB_MAX_MESSAGE_HARD. A later pb_envelope_decode of the same bytes may
 * still reject them. Either output pointer may be NULL.
 * Returns FL_OK, FL_ERR_PARSE (malformed), FL_ERR_LIMIT (too long),
 * FL_ERR_PROTO (msg_id missing or zero) or FL_ERR_INVALID (buf NULL).
 */
fl_err_t pb_envelope_peek(const uint8_t *buf, size_t len, uint64_t *msg_id,
                          uint64_t *in_reply_to) FL_WUR;

/*
 * Decodes and validates one Envelope from the untrusted bytes buf[0..len).
 * lim: the limits (see pb_limits_t); must not be NULL.
 * out: receives the message; on FL_OK the caller owns it and must call
 *      pb_msg_cleanup(out). On error out is left cleaned up (type PB_NONE,
 *      nothing to free), so calling pb_msg_cleanup() is harmless.
 * eb:  receives "field: reason" on error; may be NULL.
 * Returns FL_OK or a code from the list at the top of this file.
 */
fl_err_t pb_envelope_decode(const uint8_t *buf, size_t len,
                            const pb_limits_t *lim, pb_msg_t *out,
                            fl_errbuf_t *eb) FL_WUR;

/*
 * As pb_envelope_decode(), and also requires the body to be of the given
 * type (FL_ERR_PROTO "envelope: expected train_result, got decline").
 */
fl_err_t pb_envelope_decode_as(const uint8_t *buf, size_t len,
                               const pb_limits_t *lim, pb_type_t type,
                               pb_msg_t *out, fl_errbuf_t *eb) FL_WUR;

/*
 * Encodes msg into a new buffer. The same field rules as decoding apply,
 * with the vector lengths and class count taken from msg itself (so a
 * sender cannot emit NaN, an out-of-range enum, a zero msg_id or an
 * over-long text); the receiver checks them against its job.
 * out: receives a malloc'd buffer the caller owns and frees with free().
 * len: receives its length (at most PB_MAX_MESSAGE_HARD).
 * Returns FL_OK, FL_ERR_INVALID (msg breaks a rule; eb names the field),
 * FL_ERR_LIMIT (too large) or FL_ERR_NOMEM. On error *out is NULL.
 */
fl_err_t pb_envelope_encode(const pb_msg_t *msg, uint8_t **out, size_t *len,
                            fl_errbuf_t *eb) FL_WUR;

/*
 * Frees what msg owns (vectors, job file, confusion, subgroups) and resets
 * it to zero with type PB_NONE. NULL and an already cleaned message are
 * fine.
 */
void pb_msg_cleanup(pb_msg_t *msg);

/*
 * Picks the first msg_id of a process: a random value in 1..2^62 (from the
 * OpenSSL CSPRNG), so that a restarted process does not reuse ids its peer
 * still remembers (the channel drops ids it has delivered), and 2^62
 * increments never wrap to 0. Increment it for each message sent.
 * Returns FL_OK or FL_ERR_CRYPTO (no randomness available).
 */
fl_err_t pb_msg_id_first(uint64_t *id) FL_WUR;

/* The body's name as in docs/protocol.md ("train_result"), or "unknown". */
const char *pb_type_name(pb_type_t type);

#endif
