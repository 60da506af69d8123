/*
 * tests/unit/proto/chan_test_msg.h: the application message format the
 * channel's tests and benchmark use, so they exercise the channel without
 * the codec: 8-byte big-endian message id (non-zero), 8-byte big-endian id
 * of the message answered (0 if none), then the payload. chan_test_msgid()
 * is the channel's msgid callback for it. Header-only (static functions).
 */
#ifndef CHAN_TEST_MSG_H
#define CHAN_TEST_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

static inline void
put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t) v;
        v >>= 8;
    }
}

static inline uint64_t
get64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static inline fl_err_t
chan_test_msgid(const uint8_t *buf, size_t len, uint64_t *id, uint64_t *re)
{
    if (len < 16 || get64(buf) == 0)
        return FL_ERR_PARSE;
    *id = get64(buf);
    *re = get64(buf + 8);
    return FL_OK;
}

#endif
