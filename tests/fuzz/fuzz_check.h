/*
 * tests/fuzz/fuzz_check.h: what every codec fuzz target asserts about a
 * decoded input (header-only; each target is its own program).
 */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include "proto/codec.h"
#include "tests/unit/proto/codec_samples.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Stops the fuzzer with the reason: libFuzzer reports abort() as a crash. */
#define FUZZ_ASSERT(cond)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            (void) fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond);  \
            abort();                                                           \
        }                                                                      \
    } while (0)

/*
 * Decodes data with the limits of the seed corpus and, when it is accepted,
 * checks that: the peek agrees on the ids; the message encodes again; the
 * new bytes decode to a message that encodes to the very same bytes.
 */
static inline void
fuzz_check_envelope(const uint8_t *data, size_t size)
{
    pb_limits_t lim;
    pb_msg_t msg, again;
    fl_errbuf_t eb = {{0}};
    uint8_t *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;
    uint64_t id = 0, reply = 0;
    fl_err_t err;

    sample_limits(&lim);
    err = pb_envelope_decode(data, size, &lim, &msg, &eb);
    if (err != FL_OK) {
        /* Every rejection says why, and leaves nothing to free. */
        FUZZ_ASSERT(eb.msg[0] != '\0');
        FUZZ_ASSERT(msg.type == PB_NONE);
        return;
    }
    FUZZ_ASSERT(pb_envelope_peek(data, size, &id, &reply) == FL_OK);
    FUZZ_ASSERT(id == msg.msg_id && reply == msg.in_reply_to);
    FUZZ_ASSERT(pb_envelope_encode(&msg, &buf, &len, &eb) == FL_OK);
    FUZZ_ASSERT(pb_envelope_decode(buf, len, &lim, &again, &eb) == FL_OK);
    FUZZ_ASSERT(again.type == msg.type && again.msg_id == msg.msg_id);
    FUZZ_ASSERT(pb_envelope_encode(&again, &buf2, &len2, &eb) == FL_OK);
    FUZZ_ASSERT(len == len2 && memcmp(buf, buf2, len) == 0);
    free(buf);
    free(buf2);
    pb_msg_cleanup(&again);
    pb_msg_cleanup(&msg);
}

#endif
