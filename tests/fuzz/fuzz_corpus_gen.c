/*
 * tests/fuzz/fuzz_corpus_gen.c: writes the seed corpora of the codec fuzz
 * targets: one valid Envelope of every message type (and a few variants),
 * encoded by the real encoder, checked by the real decoder.
 *
 * Usage: fuzz_corpus_gen <corpus-dir>; writes <corpus-dir>/<target>/<name>
 * for every target below. The directories must exist. Exit 0 on success.
 */
#include "proto/codec.h"
#include "tests/unit/proto/codec_samples.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const targets[] = {"fuzz_peek"};

static int
write_file(const char *dir, const char *target, const char *name,
           const uint8_t *buf, size_t len)
{
    char path[4096];
    FILE *f;
    int n = snprintf(path, sizeof path, "%s/%s/%s", dir, target, name);

    if (n < 0 || (size_t) n >= sizeof path)
        return -1;
    f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    if (fwrite(buf, 1, len, f) != len) {
        perror(path);
        (void) fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* Encodes msg, checks it decodes, writes it for every target. */
static int
emit(const char *dir, const char *name, pb_msg_t *msg)
{
    pb_limits_t lim;
    pb_msg_t back;
    fl_errbuf_t eb = {{0}};
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = -1;

    sample_limits(&lim);
    if (pb_envelope_encode(msg, &buf, &len, &eb) != FL_OK ||
        pb_envelope_decode(buf, len, &lim, &back, &eb) != FL_OK) {
        (void) fprintf(stderr, "%s: %s\n", name, eb.msg);
        goto out;
    }
    pb_msg_cleanup(&back);
    rc = 0;
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        if (write_file(dir, targets[t], name, buf, len) != 0)
            rc = -1;
    }
out:
    free(buf);
    pb_msg_cleanup(msg);
    return rc;
}

int
main(int argc, char **argv)
{
    pb_msg_t msg;
    int rc = 0;

    if (argc != 2) {
        (void) fprintf(stderr, "usage: fuzz_corpus_gen <corpus-dir>\n");
        return 2;
    }
    for (size_t i = 0; i < N_SAMPLE_TYPES; i++) {
        sample_msg(sample_types[i], &msg);
        rc |= emit(argv[1], pb_type_name(sample_types[i]), &msg);
    }
    sample_msg(PB_JOB_ANSWER, &msg);
    msg.u.job_answer.accept = false;
    msg.u.job_answer.reason = PB_DECLINE_POLICY;
    rc |= emit(argv[1], "job_answer_decline", &msg);
    sample_msg(PB_TRAIN_RESULT, &msg);
    msg.u.train_result.receipt.accountant = PB_ACCOUNTANT_NONE;
    msg.u.train_result.receipt.epsilon = (double) INFINITY;
    msg.u.train_result.receipt.mechanism.noise_multiplier = 0.0;
    rc |= emit(argv[1], "train_result_no_dp", &msg);
    sample_msg(PB_BYE, &msg);
    msg.in_reply_to = UINT64_MAX;
    SET_STR(msg.u.bye.text, "budget \xe2\x80\x94 exhausted");
    rc |= emit(argv[1], "bye_text", &msg);
    return rc == 0 ? 0 : 1;
}
