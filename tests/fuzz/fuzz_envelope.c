/*
 * tests/fuzz/fuzz_envelope.c: libFuzzer target for pb_envelope_decode (and
 * its inverse, pb_envelope_encode, on whatever it accepts).
 */
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_check_envelope(data, size);
    return 0;
}
