/*
 * tests/fuzz/fuzz_job.c: libFuzzer target for pb_job_parse, the parser of
 * the job file a node receives in a JobOffer (untrusted bytes). Seeds: the
 * demo's job (deploy/examples/job.ini) and variants.
 */
#include "proto/job.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pb_job_t job;
    fl_errbuf_t eb = {{0}};
    double q = 0;
    uint64_t steps = 0;

    if (pb_job_parse("fuzz.ini", (const char *) data, size, &job, &eb) !=
        FL_OK) {
        /* Every rejection says why. */
        if (eb.msg[0] == '\0') {
            (void) fprintf(stderr, "pb_job_parse: error without message\n");
            abort();
        }
        return 0;
    }
    /* What the daemons compute from an accepted job must not crash. */
    (void) pb_job_param_count(&job);
    pb_job_calibration_inputs(&job, &q, &steps);
    pb_job_cleanup(&job);
    return 0;
}
