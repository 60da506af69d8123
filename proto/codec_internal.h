/*
 * proto/codec_internal.h: helpers shared by the codec's source files
 * (pb__ prefix). Not part of the public API: only proto/ and the codec's
 * own tests include it. It never includes the generated protobuf-c header.
 */
#ifndef PB_CODEC_INTERNAL_H
#define PB_CODEC_INTERNAL_H

#include "proto/codec.h"

/* Kinds of text a field may hold. */
typedef enum pb__text_kind {
    PB__TEXT_ASCII,   /* printable ASCII 0x20..0x7e */
    PB__TEXT_SITE_ID, /* [A-Za-z0-9._-] */
    PB__TEXT_UTF8,    /* UTF-8 without control characters */
    PB__TEXT_FILE     /* UTF-8 without NUL (a job file) */
} pb__text_kind_t;

/* Evaluates an fl_err_t expression and returns it when it is an error. */
#define TRY(expr)                                                              \
    do {                                                                       \
        fl_err_t try_err_ = (expr);                                            \
        if (try_err_ != FL_OK)                                                 \
            return try_err_;                                                   \
    } while (0)

/*
 * The length rule of pb__check_text() alone: at least min_len and at most
 * max_len bytes (a file over max_len gives FL_ERR_LIMIT, as there).
 */
fl_err_t pb__check_text_len(size_t len, size_t min_len, size_t max_len,
                            pb__text_kind_t kind, const char *field,
                            fl_err_t code, fl_errbuf_t *eb);

/*
 * Checks len bytes of text of the given kind, at least min_len and at most
 * max_len bytes. On failure writes "<field>: reason" and returns code.
 */
fl_err_t pb__check_text(const uint8_t *s, size_t len, size_t min_len,
                        size_t max_len, pb__text_kind_t kind, const char *field,
                        fl_err_t code, fl_errbuf_t *eb);

/*
 * Checks a vector of n floats against the limits (lim->model_dim; 0 means
 * not known, which gives FL_ERR_INVALID). Does not read the values.
 */
fl_err_t pb__check_dim(size_t n, const pb_limits_t *lim, const char *field,
                       fl_err_t code, fl_errbuf_t *eb);

/*
 * Converts n little-endian float32 from src into dst, and back. One memcpy
 * on a little-endian host; the *_bytes forms, used on other hosts, work
 * byte by byte on any host (and are tested against the memcpy).
 */
void pb__floats_from_le(float *dst, const uint8_t *src, size_t n);
void pb__floats_to_le(uint8_t *dst, const float *src, size_t n);
void pb__floats_from_le_bytes(float *dst, const uint8_t *src, size_t n);
void pb__floats_to_le_bytes(uint8_t *dst, const float *src, size_t n);

/*
 * Checks every field of msg against the rules of docs/protocol.md and the
 * limits; the first broken rule gives code and "<message>.<field>: reason".
 * Decoding passes FL_ERR_PROTO, encoding FL_ERR_INVALID (dimension and
 * class counts not set in the limits give FL_ERR_INVALID either way).
 */
fl_err_t pb__msg_check(const pb_msg_t *msg, const pb_limits_t *lim,
                       fl_err_t code, fl_errbuf_t *eb);

/*
 * Encodes msg without checking its field values (structure only: body
 * type known, pointers present for non-zero counts). For tests that need
 * to build invalid messages; production code calls pb_envelope_encode().
 * version is written as given. Same ownership and codes as
 * pb_envelope_encode().
 */
fl_err_t pb__envelope_encode_unchecked(const pb_msg_t *msg, uint32_t version,
                                       uint8_t **out, size_t *len,
                                       fl_errbuf_t *eb);

#endif
