/*
 * tests/bench/bench_channel.c: throughput and handshake latency of the
 * secure channel against plain ZeroMQ, in the same run, on loopback.
 *
 * The coordinator side runs in a second thread. A node sends a message,
 * the coordinator echoes it, the node waits for the echo, N times; MB/s is
 * message bytes (one way) per second, MB = 10^6 bytes. Plain ZeroMQ does
 * the same with a ROUTER/DEALER pair and no TLS. Then the node starts M new
 * sessions (full mutual TLS 1.3 handshake, CRL check and the Welcome) and
 * the time from the ClientHello to the Welcome is reported.
 *
 * Output, one JSON object per line:
 *   {"size": BYTES, "tls_mb_per_s": X, "plain_mb_per_s": Y, "ratio": X/Y}
 *   {"handshake_ms_median": M, "handshake_ms_p95": P}
 *
 * The node and the coordinator use the owning sends (chan_*_send_owned):
 * each echo received is handed back as the next message, as an
 * application passes on a buffer it built. --copy uses the copying sends.
 *
 * --cpu also prints, on stderr, the process CPU time (all threads) per MB
 * for each side: less sensitive to other load than the wall-clock rates.
 *
 * Usage: bench_channel [--count N] [--handshakes M] [--copy] [--cpu]
 * Needs the openssl CLI and deploy/dpfl-pki (found through DPFL_SOURCE_DIR
 * or the current directory) to make a throwaway PKI.
 */
#include "proto/chan.h"
#include "common/clock.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zmq.h>

#include "tests/unit/proto/chan_test_msg.h"

static char g_dir[64];
static atomic_int g_stop;
/* --copy: the copying sends (chan_*_send) instead of the owning ones. */
static bool g_copy;
/* --cpu: CPU time per MB on stderr too. */
static bool g_cpu;

static int
make_pki(void)
{
    const char *src = getenv("DPFL_SOURCE_DIR");
    char cmd[2048];

    snprintf(g_dir, sizeof(g_dir), "/tmp/dpfl-bench-XXXXXX");
    if (mkdtemp(g_dir) == NULL) {
        return -1;
    }
    snprintf(cmd, sizeof(cmd),
             "P='%s/deploy/dpfl-pki'; [ -x \"$P\" ] || P=$PWD/deploy/dpfl-pki; "
             "cd %s && exec >pki.log 2>&1 && $P init --ca ca && "
             "$P request --site coordinator --out s && "
             "$P sign --ca ca --csr s/coordinator.csr --site coordinator "
             "--role server --dns coordinator.bench --out s/coordinator.pem && "
             "$P request --site node --out n && "
             "$P sign --ca ca --csr n/node.csr --site node --role client "
             "--out n/node.pem",
             src ? src : ".", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *
path(const char *rel)
{
    static char buf[16][160];
    static int n;
    char *p = buf[n++ % 16];

    snprintf(p, 160, "%s/%s", g_dir, rel);
    return p;
}

/* ---- TLS coordinator thread ---- */

static void *
tls_server(void *arg)
{
    chan_server_t *srv = arg;
    uint64_t next = 1u << 30;
    fl_errbuf_t eb = {{0}};

    while (!atomic_load(&g_stop)) {
        chan_event_t ev;
        char site[CHAN_SITE_ID_MAX + 1];
        uint8_t *buf;
        size_t len;
        if (chan_server_poll(srv, 20, &eb) != FL_OK) {
            break;
        }
        while (chan_server_event(srv, &ev) == FL_OK) {
            if (ev.type == CHAN_EV_AUTHENTICATED) {
                uint8_t w[32] = {0};
                put64(w, ++next);
                if (chan_server_welcome(srv, ev.site_id, w, sizeof(w), &eb)) {
                    fprintf(stderr, "welcome: %s\n", eb.msg);
                }
            }
        }
        while (chan_server_recv(srv, site, &buf, &len) == FL_OK) {
            fl_err_t rc;
            put64(buf + 8, get64(buf));
            put64(buf, ++next);
            if (g_copy) {
                rc = chan_server_send(srv, site, buf, len, 0, &eb);
                free(buf);
            } else { /* the received buffer goes back without a copy */
                rc = chan_server_send_owned(srv, site, buf, len, 0, &eb);
            }
            if (rc != FL_OK) {
                fprintf(stderr, "echo: %s\n", eb.msg);
            }
        }
    }
    return NULL;
}

static int
wait_ready(chan_client_t *cli)
{
    fl_errbuf_t eb = {{0}};
    int64_t end = fl_clock_mono_ms() + 10000;
    uint8_t *w;
    size_t wl;

    while (!chan_client_is_ready(cli) && fl_clock_mono_ms() < end) {
        if (chan_client_poll(cli, 5, &eb) != FL_OK) {
            return -1;
        }
    }
    if (chan_client_recv(cli, &w, &wl) == FL_OK) {
        free(w);
    }
    return chan_client_is_ready(cli) ? 0 : -1;
}

/* Echoes count messages of size bytes. With the owning send, the node
 * hands each echo it received back as the next message (no copy in or
 * out); with --copy it sends msg (copied by the channel) and frees each
 * echo. */
static double
tls_echo(chan_client_t *cli, uint8_t *msg, size_t size, int count)
{
    fl_errbuf_t eb = {{0}};
    static uint64_t id = 1;
    int64_t t0 = fl_clock_mono_ns();
    uint8_t *cur = NULL;
    double rate = -1;
    int i;

    if (!g_copy) {
        cur = malloc(size);
        if (cur == NULL) {
            return -1;
        }
        memcpy(cur, msg, size);
    }
    for (i = 0; i < count; i++) {
        uint8_t *got = NULL;
        size_t len = 0;
        fl_err_t rc;
        uint8_t *out = g_copy ? msg : cur;
        put64(out, ++id);
        put64(out + 8, 0);
        if (g_copy) {
            rc = chan_client_send(cli, msg, size, 0, &eb);
        } else {
            rc = chan_client_send_owned(cli, cur, size, 0, &eb);
            cur = NULL;
        }
        if (rc != FL_OK) {
            fprintf(stderr, "send: %s\n", eb.msg);
            goto out;
        }
        while (chan_client_recv(cli, &got, &len) != FL_OK) {
            if (chan_client_poll(cli, 50, &eb) != FL_OK) {
                goto out;
            }
        }
        if (len != size || get64(got + 8) != id) {
            fprintf(stderr, "bad echo\n");
            free(got);
            goto out;
        }
        if (g_copy) {
            free(got);
        } else {
            cur = got;
        }
    }
    rate = (double) size * count / ((double) (fl_clock_mono_ns() - t0) / 1e9) /
           1e6;
out:
    free(cur);
    return rate;
}

/* ---- plain ZeroMQ ---- */

static void *
plain_server(void *arg)
{
    void *sock = arg;
    int timeout = 20;

    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    while (!atomic_load(&g_stop)) {
        zmq_msg_t rid, body;
        zmq_msg_init(&rid);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&rid, sock, 0) >= 0 &&
            zmq_msg_recv(&body, sock, 0) >= 0) {
            zmq_msg_send(&rid, sock, ZMQ_SNDMORE);
            zmq_msg_send(&body, sock, 0);
        }
        zmq_msg_close(&rid);
        zmq_msg_close(&body);
    }
    return NULL;
}

static double
plain_echo(void *sock, uint8_t *msg, size_t size, int count)
{
    int64_t t0 = fl_clock_mono_ns();
    int i;

    for (i = 0; i < count; i++) {
        zmq_msg_t m;
        /* Copy in, as an application handing its buffer over would. */
        if (zmq_send(sock, msg, size, 0) < 0) {
            return -1;
        }
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) < 0 || zmq_msg_size(&m) != size) {
            zmq_msg_close(&m);
            return -1;
        }
        memcpy(msg, zmq_msg_data(&m), size); /* and copy out */
        zmq_msg_close(&m);
    }
    return (double) size * count / ((double) (fl_clock_mono_ns() - t0) / 1e9) /
           1e6;
}

/* CPU seconds used by the process so far (all threads). */
static double
cpu_s(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0) {
        return 0;
    }
    return (double) ru.ru_utime.tv_sec + (double) ru.ru_stime.tv_sec +
           ((double) ru.ru_utime.tv_usec + (double) ru.ru_stime.tv_usec) / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}

static int
run(int count, int handshakes)
{
    static const size_t sizes[] = {(size_t) 1 << 20, (size_t) 10 << 20};
    chan_server_opts_t so;
    chan_client_opts_t co;
    chan_server_t *srv = NULL;
    chan_client_t *cli = NULL;
    chan_allow_t allow = {"node", NULL};
    fl_errbuf_t eb = {{0}};
    pthread_t th, pth;
    void *zctx = zmq_ctx_new(), *prouter, *pdealer;
    char ep[64];
    double *hs = calloc((size_t) handshakes, sizeof(double));
    uint8_t *msg = calloc(1, (size_t) 10 << 20);
    size_t i;
    int k, rc = 1;

    memset(&so, 0, sizeof(so));
    so.endpoint = "tcp://127.0.0.1:*";
    so.tls.ca_file = path("ca/ca.pem");
    so.tls.crl_file = path("ca/crl.pem");
    so.tls.cert_file = path("s/coordinator.pem");
    so.tls.key_file = path("s/coordinator.key");
    so.allow = &allow;
    so.n_allow = 1;
    so.msgid = chan_test_msgid;
    so.max_msg_size = (size_t) 11 << 20;
    if (hs == NULL || msg == NULL || chan_server_new(&so, &srv, &eb) != FL_OK) {
        fprintf(stderr, "bench_channel: %s\n", eb.msg);
        goto out;
    }
    memset(&co, 0, sizeof(co));
    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", chan_server_port(srv));
    co.endpoint = ep;
    co.server_name = "coordinator.bench";
    co.tls.ca_file = path("ca/ca.pem");
    co.tls.crl_file = path("ca/crl.pem");
    co.tls.cert_file = path("n/node.pem");
    co.tls.key_file = path("n/node.key");
    co.msgid = chan_test_msgid;
    co.max_msg_size = (size_t) 11 << 20;
    if (chan_client_new(&co, &cli, &eb) != FL_OK) {
        fprintf(stderr, "bench_channel: %s\n", eb.msg);
        goto out;
    }
    pthread_create(&th, NULL, tls_server, srv);
    prouter = zmq_socket(zctx, ZMQ_ROUTER);
    pdealer = zmq_socket(zctx, ZMQ_DEALER);
    zmq_bind(prouter, "tcp://127.0.0.1:*");
    {
        size_t len = sizeof(ep);
        zmq_getsockopt(prouter, ZMQ_LAST_ENDPOINT, ep, &len);
    }
    zmq_connect(pdealer, ep);
    pthread_create(&pth, NULL, plain_server, prouter);
    if (wait_ready(cli) != 0) {
        fprintf(stderr, "bench_channel: no session\n");
        goto join;
    }
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        int n = sizes[i] >= ((size_t) 10 << 20) ? count : count * 5;
        double tls, plain, tls_cpu, plain_cpu;
        /* Warm-up, then TLS and plain alternately, the best of three. */
        tls_echo(cli, msg, sizes[i], 2);
        plain_echo(pdealer, msg, sizes[i], 2);
        tls = plain = 0;
        tls_cpu = plain_cpu = 0;
        for (k = 0; k < 3; k++) {
            double c0 = cpu_s(), t, p, c1, c2;
            t = tls_echo(cli, msg, sizes[i], n);
            c1 = cpu_s();
            p = plain_echo(pdealer, msg, sizes[i], n);
            c2 = cpu_s();
            tls = t > tls ? t : tls;
            plain = p > plain ? p : plain;
            tls_cpu += c1 - c0;
            plain_cpu += c2 - c1;
        }
        if (g_cpu) { /* process CPU time (all threads) per MB echoed */
            fprintf(stderr,
                    "size %zu: cpu ms per MB one way: tls %.3f plain %.3f "
                    "(ratio %.3f)\n",
                    sizes[i],
                    tls_cpu * 1e3 / (3.0 * n * (double) sizes[i] / 1e6),
                    plain_cpu * 1e3 / (3.0 * n * (double) sizes[i] / 1e6),
                    tls_cpu > 0 ? plain_cpu / tls_cpu : 0.0);
        }
        printf("{\"size\": %zu, \"tls_mb_per_s\": %.1f, \"plain_mb_per_s\": "
               "%.1f, \"ratio\": %.3f}\n",
               sizes[i], tls, plain, plain > 0 ? tls / plain : 0.0);
    }
    for (k = 0; k < handshakes; k++) {
        chan_client_rehandshake(cli);
        if (wait_ready(cli) != 0) {
            fprintf(stderr, "bench_channel: re-handshake failed\n");
            goto join;
        }
        hs[k] = chan_client_last_handshake_ms(cli);
    }
    qsort(hs, (size_t) handshakes, sizeof(double), cmp_double);
    printf("{\"handshake_ms_median\": %.3f, \"handshake_ms_p95\": %.3f}\n",
           hs[handshakes / 2], hs[(handshakes * 95) / 100]);
    rc = 0;
join:
    atomic_store(&g_stop, 1);
    pthread_join(th, NULL);
    pthread_join(pth, NULL);
    zmq_close(prouter);
    zmq_close(pdealer);
out:
    chan_client_destroy(&cli);
    chan_server_destroy(&srv);
    zmq_ctx_term(zctx);
    free(hs);
    free(msg);
    return rc;
}

int
main(int argc, char **argv)
{
    int count = 20, handshakes = 100, i, rc;
    char cmd[128];

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            count = (int) strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--handshakes") == 0 && i + 1 < argc) {
            handshakes = (int) strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--copy") == 0) {
            g_copy = true;
        } else if (strcmp(argv[i], "--cpu") == 0) {
            g_cpu = true;
        } else {
            fprintf(stderr, "usage: bench_channel [--count N] [--handshakes "
                            "M] [--copy] [--cpu]\n");
            return 2;
        }
    }
    if (count < 1 || count > 10000 || handshakes < 1 || handshakes > 10000) {
        fprintf(stderr, "bench_channel: counts out of range\n");
        return 2;
    }
    if (make_pki() != 0) {
        fprintf(stderr, "bench_channel: cannot make a PKI (needs openssl and "
                        "deploy/dpfl-pki; set DPFL_SOURCE_DIR)\n");
        return 1;
    }
    rc = run(count, handshakes);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) {
        rc = 1;
    }
    return rc;
}
