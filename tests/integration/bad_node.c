/*
 * bad_node: a hospital that sends malformed updates, for the federation
 * integration tests. It is a real channel client with a real certificate;
 * it accepts the job, then answers training requests alternately with an
 * update of the wrong dimension and with an update holding a NaN (patched
 * into the encoded bytes, since dpfl's encoder refuses to emit NaN).
 *
 *   bad_node ENDPOINT SERVER_NAME CA CRL CERT KEY
 *
 * Exits 0 when the coordinator says bye, 1 on an error or after 120 s.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "proto/chan.h"
#include "proto/codec.h"
#include "proto/job.h"

#define SENTINEL 1234.5f

static uint64_t next_id = 1;

static int
send_msg(chan_client_t *cli, pb_msg_t *m, uint64_t in_reply_to, int nan)
{
    fl_errbuf_t eb = {{0}};
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = 0;

    m->msg_id = next_id++;
    m->in_reply_to = in_reply_to;
    if (pb_envelope_encode(m, &buf, &len, &eb) != FL_OK) {
        (void) fprintf(stderr, "bad_node: encode: %s\n", eb.msg);
        return 1;
    }
    if (nan) {
        /* Replace the sentinel's little-endian bytes with a quiet NaN. */
        const uint8_t want[4] = {0x00, 0x50, 0x9a, 0x44};
        const uint8_t qnan[4] = {0x00, 0x00, 0xc0, 0x7f};

        for (size_t i = 0; i + 4 <= len; i++)
            if (memcmp(buf + i, want, 4) == 0) {
                memcpy(buf + i, qnan, 4);
                break;
            }
    }
    if (chan_client_send(cli, buf, len, in_reply_to ? 0 : CHAN_SEND_NO_REPLY,
                         &eb) != FL_OK) {
        (void) fprintf(stderr, "bad_node: send: %s\n", eb.msg);
        rc = 1;
    }
    free(buf);
    return rc;
}

static int
answer_train(chan_client_t *cli, const pb_msg_t *req, unsigned *count)
{
    const pb_train_request_t *r = &req->u.train_request;
    int nan = (*count)++ % 2 == 1;
    size_t dim = nan ? r->model_dim : r->model_dim - 1;
    pb_msg_t m;
    int rc;

    memset(&m, 0, sizeof m);
    m.type = PB_TRAIN_RESULT;
    m.u.train_result.round_id = r->round_id;
    m.u.train_result.update = calloc(dim, sizeof(float));
    if (m.u.train_result.update == NULL)
        return 1;
    m.u.train_result.update[0] = SENTINEL;
    m.u.train_result.update_dim = dim;
    m.u.train_result.local_steps_done = r->local_steps;
    m.u.train_result.receipt.epsilon = 0.5;
    m.u.train_result.receipt.delta = 1e-5;
    m.u.train_result.receipt.accountant = PB_ACCOUNTANT_RDP;
    m.u.train_result.receipt.mechanism.sampling_rate = 0.32;
    m.u.train_result.receipt.mechanism.noise_multiplier = 1.0;
    m.u.train_result.receipt.mechanism.steps = r->local_steps;
    m.u.train_result.receipt.mechanism.clip_norm = 1.0;
    m.u.train_result.receipt.ledger_seq = *count;
    m.u.train_result.receipt.generator = PB_GENERATOR_SECURE;
    (void) fprintf(stderr, "bad_node: round %llu: sending %s update\n",
                   (unsigned long long) r->round_id,
                   nan ? "a NaN" : "a wrong-dimension");
    rc = send_msg(cli, &m, req->msg_id, nan);
    free(m.u.train_result.update);
    return rc;
}

static int
answer_offer(chan_client_t *cli, pb_limits_t *lim, const pb_msg_t *req)
{
    fl_errbuf_t eb = {{0}};
    pb_job_t job;
    pb_msg_t m;

    /* Learn the model's dimension from the job, as a node would. */
    if (pb_job_parse("offer", (const char *) req->u.job_offer.job_file,
                     req->u.job_offer.job_file_len, &job, &eb) != FL_OK) {
        (void) fprintf(stderr, "bad_node: job: %s\n", eb.msg);
        return 1;
    }
    lim->model_dim = pb_job_param_count(&job);
    lim->n_classes = job.classes;
    pb_job_cleanup(&job);

    memset(&m, 0, sizeof m);
    m.type = PB_JOB_ANSWER;
    memcpy(m.u.job_answer.job_hash, req->u.job_offer.job_hash, PB_HASH_LEN);
    m.u.job_answer.accept = true;
    m.u.job_answer.dataset_size = 100;
    m.u.job_answer.epsilon_budget = 100;
    m.u.job_answer.delta = 1e-5;
    m.u.job_answer.accountant = PB_ACCOUNTANT_RDP;
    (void) snprintf(m.u.job_answer.text, sizeof m.u.job_answer.text, "ok");
    return send_msg(cli, &m, req->msg_id, 0);
}

/* Handles one message; returns 1 to stop with success, -1 on error. */
static int
handle(chan_client_t *cli, pb_limits_t *lim, const uint8_t *buf, size_t len,
       unsigned *count)
{
    fl_errbuf_t eb = {{0}};
    pb_msg_t m;
    int rc = 0;

    if (pb_envelope_decode(buf, len, lim, &m, &eb) != FL_OK) {
        (void) fprintf(stderr, "bad_node: decode: %s\n", eb.msg);
        return 0;
    }
    if (m.type == PB_JOB_OFFER && answer_offer(cli, lim, &m) != 0)
        rc = -1;
    else if (m.type == PB_TRAIN_REQUEST && answer_train(cli, &m, count) != 0)
        rc = -1;
    else if (m.type == PB_BYE)
        rc = 1;
    pb_msg_cleanup(&m);
    return rc;
}

int
main(int argc, char **argv)
{
    chan_client_opts_t o;
    chan_client_t *cli = NULL;
    fl_errbuf_t eb = {{0}};
    pb_limits_t lim;
    int64_t end = fl_clock_mono_ms() + 120000;
    unsigned count = 0;
    int rc = 1;

    if (argc != 7) {
        (void) fprintf(stderr,
                       "usage: bad_node ENDPOINT NAME CA CRL CERT KEY\n");
        return 2;
    }
    memset(&o, 0, sizeof o);
    o.endpoint = argv[1];
    o.server_name = argv[2];
    o.tls.ca_file = argv[3];
    o.tls.crl_file = argv[4];
    o.tls.cert_file = argv[5];
    o.tls.key_file = argv[6];
    pb_limits_default(&lim);
    next_id = (uint64_t) fl_clock_wall_ms() * 1000;
    if (chan_client_new(&o, &cli, &eb) != FL_OK) {
        (void) fprintf(stderr, "bad_node: %s\n", eb.msg);
        return 1;
    }
    while (fl_clock_mono_ms() < end) {
        uint8_t *buf;
        size_t len;
        chan_event_t ev;
        int r = 0;

        if (chan_client_poll(cli, 100, &eb) != FL_OK)
            break;
        while (chan_client_event(cli, &ev) == FL_OK)
            ;
        while (r == 0 && chan_client_recv(cli, &buf, &len) == FL_OK) {
            r = handle(cli, &lim, buf, len, &count);
            free(buf);
        }
        if (r != 0) {
            rc = r > 0 ? 0 : 1;
            break;
        }
    }
    chan_client_destroy(&cli);
    return rc;
}
