/*
 * proto/codec.c: the parts of the codec that need no protobuf-c: limits,
 * the envelope peek (a hand-written walk of the top-level wire fields),
 * message cleanup and names. Decoding is in codec_decode.c, encoding in
 * codec_encode.c, field rules in codec_check.c.
 */
#include "proto/codec.h"
#include "proto/codec_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

/* Protobuf wire types (the low three bits of a field key). */
enum { WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_LEN = 2, WIRE_FIXED32 = 5 };

/* Envelope field numbers read by the peek (see proto/dpfl.proto). */
enum { FIELD_MSG_ID = 2, FIELD_IN_REPLY_TO = 3 };

void
pb_limits_default(pb_limits_t *lim)
{
    if (lim == NULL)
        return;
    memset(lim, 0, sizeof *lim);
    lim->max_message_bytes = PB_MAX_MESSAGE_DEFAULT;
    lim->max_job_bytes = PB_MAX_JOB_DEFAULT;
}

/*
 * Reads one varint at buf[*pos..len). Returns false when truncated or longer
 * than ten bytes. Bits past 2^64 in the tenth byte are dropped, as
 * protobuf-c drops them, so that the peek and the full decode agree.
 */
static bool
read_varint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *v)
{
    uint64_t r = 0;

    for (unsigned i = 0; i < 10; i++) {
        uint8_t b;

        if (*pos >= len)
            return false;
        b = buf[(*pos)++];
        r |= (uint64_t) (b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            *v = r;
            return true;
        }
    }
    return false;
}

/* Skips the value of a field of the given wire type; false if malformed. */
static bool
skip_value(const uint8_t *buf, size_t len, size_t *pos, unsigned wire)
{
    uint64_t v;

    switch (wire) {
    case WIRE_VARINT:
        return read_varint(buf, len, pos, &v);
    case WIRE_FIXED64:
        if (len - *pos < 8)
            return false;
        *pos += 8;
        return true;
    case WIRE_FIXED32:
        if (len - *pos < 4)
            return false;
        *pos += 4;
        return true;
    case WIRE_LEN:
        if (!read_varint(buf, len, pos, &v) || v > len - *pos)
            return false;
        *pos += (size_t) v;
        return true;
    default:
        /* Groups (3, 4) are not used by dpfl.proto; 6 and 7 do not exist. */
        return false;
    }
}

fl_err_t
pb_envelope_peek(const uint8_t *buf, size_t len, uint64_t *msg_id,
                 uint64_t *in_reply_to)
{
    uint64_t id = 0, reply = 0;
    bool have_id = false;
    size_t pos = 0;

    if (buf == NULL && len > 0)
        return FL_ERR_INVALID;
    if (len > PB_MAX_MESSAGE_HARD)
        return FL_ERR_LIMIT;
    while (pos < len) {
        uint64_t key, field;
        unsigned wire;

        if (!read_varint(buf, len, &pos, &key))
            return FL_ERR_PARSE;
        field = key >> 3;
        wire = (unsigned) (key & 7);
        if (field == 0 || field > 536870911u)
            return FL_ERR_PARSE;
        if (field == FIELD_MSG_ID || field == FIELD_IN_REPLY_TO) {
            uint64_t v;

            if (wire != WIRE_VARINT || !read_varint(buf, len, &pos, &v))
                return FL_ERR_PARSE;
            /* As protobuf parsers do, the last occurrence wins. */
            if (field == FIELD_MSG_ID) {
                id = v;
                have_id = true;
            } else {
                reply = v;
            }
        } else if (!skip_value(buf, len, &pos, wire)) {
            return FL_ERR_PARSE;
        }
    }
    if (!have_id || id == 0)
        return FL_ERR_PROTO;
    if (msg_id != NULL)
        *msg_id = id;
    if (in_reply_to != NULL)
        *in_reply_to = reply;
    return FL_OK;
}

fl_err_t
pb_msg_id_first(uint64_t *id)
{
    uint8_t b[8];
    uint64_t v = 0;

    if (id == NULL)
        return FL_ERR_INVALID;
    if (RAND_bytes(b, sizeof b) != 1)
        return FL_ERR_CRYPTO;
    for (size_t i = 0; i < sizeof b; i++)
        v = v << 8 | b[i];
    /* 62 random bits, plus one: 1..2^62. */
    *id = (v >> 2) + 1;
    return FL_OK;
}

const char *
pb_type_name(pb_type_t type)
{
    switch (type) {
    case PB_NONE:
        return "none";
    case PB_HELLO:
        return "hello";
    case PB_WELCOME:
        return "welcome";
    case PB_JOB_OFFER:
        return "job_offer";
    case PB_JOB_ANSWER:
        return "job_answer";
    case PB_TRAIN_REQUEST:
        return "train_request";
    case PB_TRAIN_RESULT:
        return "train_result";
    case PB_DECLINE:
        return "decline";
    case PB_EVAL_REQUEST:
        return "eval_request";
    case PB_EVAL_RESULT:
        return "eval_result";
    case PB_ERROR:
        return "error";
    case PB_BYE:
        return "bye";
    }
    return "unknown";
}

void
pb_msg_cleanup(pb_msg_t *msg)
{
    if (msg == NULL)
        return;
    switch (msg->type) {
    case PB_JOB_OFFER:
        free(msg->u.job_offer.job_file);
        break;
    case PB_TRAIN_REQUEST:
        free(msg->u.train_request.model);
        break;
    case PB_TRAIN_RESULT:
        free(msg->u.train_result.update);
        break;
    case PB_EVAL_REQUEST:
        free(msg->u.eval_request.model);
        break;
    case PB_EVAL_RESULT:
        free(msg->u.eval_result.confusion);
        free(msg->u.eval_result.subgroups);
        break;
    default:
        break;
    }
    memset(msg, 0, sizeof *msg);
    msg->type = PB_NONE;
}

fl_err_t
pb_envelope_decode_as(const uint8_t *buf, size_t len, const pb_limits_t *lim,
                      pb_type_t type, pb_msg_t *out, fl_errbuf_t *eb)
{
    fl_err_t err;

    err = pb_envelope_decode(buf, len, lim, out, eb);
    if (err != FL_OK)
        return err;
    if (out->type != type) {
        err = fl_fail(eb, FL_ERR_PROTO, "envelope: expected %s, got %s",
                      pb_type_name(type), pb_type_name(out->type));
        pb_msg_cleanup(out);
    }
    return err;
}
