/*
 * tests/fuzz/fuzz_peek.c: libFuzzer target for pb_envelope_peek, the
 * allocation-free read of msg_id and in_reply_to. Whatever the full decoder
 * accepts, the peek must accept with the same ids (fuzz_check.h).
 */
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t id = 0, reply = 0;
    fl_err_t err = pb_envelope_peek(data, size, &id, &reply);

    FUZZ_ASSERT(err == FL_OK || err == FL_ERR_PARSE || err == FL_ERR_PROTO);
    if (err == FL_OK)
        FUZZ_ASSERT(id != 0);
    fuzz_check_envelope(data, size);
    return 0;
}
