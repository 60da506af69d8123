/*
 * tests/unit/proto/test_chan_fixture.h: shared set-up of the channel tests:
 * a throwaway PKI made with deploy/dpfl-pki in a temporary directory, test
 * messages (8-byte id, 8-byte in_reply_to, payload) with their id reader,
 * and a coordinator loop that welcomes and echoes, recording events.
 */
#ifndef TEST_CHAN_FIXTURE_H
#define TEST_CHAN_FIXTURE_H

#include "proto/chan.h"
#include "tests/unit/proto/chan_test_msg.h"
#include "common/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct pki {
    char dir[256];
} pki_t;

static pki_t g_pki;
static char g_paths[64][320]; /* scratch for paths */
static int g_npaths;

static const char *
pki_file(const char *rel)
{
    char *p = g_paths[g_npaths++ % 64];

    snprintf(p, 320, "%s/%s", g_pki.dir, rel);
    return p;
}

static int
pki_sh(const char *cmd)
{
    char line[2048];
    const char *src = getenv("DPFL_SOURCE_DIR");

    snprintf(line, sizeof(line), "cd '%s' && P='%s/deploy/dpfl-pki' && %s",
             g_pki.dir, src ? src : ".", cmd);
    return system(line);
}

/* Makes CA, coordinator (server), hosp-a, hosp-b, and the bad ones. */
static int
pki_setup(void **state)
{
    (void) state;
    snprintf(g_pki.dir, sizeof(g_pki.dir), "/tmp/dpfl-chan-XXXXXX");
    if (mkdtemp(g_pki.dir) == NULL) {
        return -1;
    }
    return pki_sh(
        "exec >pki.log 2>&1 && "
        "$P init --ca ca && $P init --ca ca2 --name 'other CA' && "
        "$P request --site coordinator --out s && "
        "$P sign --ca ca --csr s/coordinator.csr --site coordinator "
        "  --role server --dns coordinator.test --out s/coordinator.pem && "
        "for n in hosp-a hosp-b hosp-r hosp-x hosp-z hosp-o hosp-s hosp-v; do "
        "  $P request --site $n --out $n || exit 1; done && "
        "$P sign --ca ca --csr hosp-a/hosp-a.csr --site hosp-a --role client "
        "  --out hosp-a/hosp-a.pem && "
        "$P sign --ca ca --csr hosp-b/hosp-b.csr --site hosp-b --role client "
        "  --out hosp-b/hosp-b.pem && "
        "$P sign --ca ca --csr hosp-v/hosp-v.csr --site hosp-v --role client "
        "  --out hosp-v/hosp-v.pem && "
        "$P sign --ca ca --csr hosp-r/hosp-r.csr --site hosp-r --role client "
        "  --out hosp-r/hosp-r.pem && "
        "$P sign --ca ca --csr hosp-x/hosp-x.csr --site hosp-x --role client "
        "  --start 20200101000000Z --end 20200201000000Z "
        "  --out hosp-x/hosp-x.pem && "
        "$P sign --ca ca --csr hosp-z/hosp-z.csr --site hosp-z --role client "
        "  --out hosp-z/hosp-z.pem && "
        "$P sign --ca ca2 --csr hosp-o/hosp-o.csr --site hosp-a "
        "  --role client --out hosp-o/hosp-o.pem && "
        "$P sign --ca ca --csr hosp-s/hosp-s.csr --site hosp-s --role server "
        "  --dns hosp-s.test --out hosp-s/hosp-s.pem && "
        "$P request --site coordinator --out s2 && "
        "$P sign --ca ca --csr s2/coordinator.csr --site coordinator "
        "  --role server --dns coordinator.test --out s2/coordinator.pem && "
        "$P revoke --ca ca --cert hosp-r/hosp-r.pem --reason keyCompromise && "
        "$P revoke --ca ca --cert s2/coordinator.pem --reason keyCompromise");
}

static int
pki_teardown(void **state)
{
    char cmd[300];

    (void) state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_pki.dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- test messages ---- */

/* A message of len bytes (>= 16) whose payload is a function of seed. */
static uint8_t *
tmsg_new(uint64_t id, uint64_t re, size_t len, uint32_t seed)
{
    uint8_t *b = malloc(len);
    size_t i;
    uint32_t x = seed * 2654435761u + 1;

    if (b == NULL) {
        abort();
    }
    put64(b, id);
    put64(b + 8, re);
    for (i = 16; i < len; i++) {
        x = x * 1664525u + 1013904223u;
        b[i] = (uint8_t) (x >> 24);
    }
    return b;
}

/* ---- options ---- */

static chan_allow_t g_allow[] = {{"hosp-a", NULL}, {"hosp-b", NULL},
                                 {"hosp-r", NULL}, {"hosp-x", NULL},
                                 {"hosp-s", NULL}, {"hosp-v", NULL}};

static void
server_opts(chan_server_opts_t *o, const char *endpoint)
{
    memset(o, 0, sizeof(*o));
    o->endpoint = endpoint;
    o->tls.ca_file = pki_file("ca/ca.pem");
    o->tls.crl_file = pki_file("ca/crl.pem");
    o->tls.cert_file = pki_file("s/coordinator.pem");
    o->tls.key_file = pki_file("s/coordinator.key");
    o->allow = g_allow;
    o->n_allow = sizeof(g_allow) / sizeof(g_allow[0]);
    o->msgid = chan_test_msgid;
    o->max_msg_size = (size_t) 65 << 20;
    o->heartbeat_ms = 500;
}

static char g_ep[64];

static void
client_opts(chan_client_opts_t *o, int port, const char *site)
{
    static char cert[320], key[320];

    memset(o, 0, sizeof(*o));
    snprintf(g_ep, sizeof(g_ep), "tcp://127.0.0.1:%d", port);
    snprintf(cert, sizeof(cert), "%s/%s/%s.pem", g_pki.dir, site, site);
    snprintf(key, sizeof(key), "%s/%s/%s.key", g_pki.dir, site, site);
    o->endpoint = g_ep;
    o->server_name = "coordinator.test";
    o->tls.ca_file = pki_file("ca/ca.pem");
    o->tls.crl_file = pki_file("ca/crl.pem");
    o->tls.cert_file = cert;
    o->tls.key_file = key;
    o->msgid = chan_test_msgid;
    o->max_msg_size = (size_t) 65 << 20;
    o->heartbeat_ms = 500;
    o->retry_min_ms = 50;
    o->retry_max_ms = 400;
    o->send_timeout_ms = 500;
}

/* ---- a coordinator that welcomes and echoes ---- */

#define MAX_EVS 64
typedef struct echo {
    chan_event_t ev[MAX_EVS]; /* server events seen */
    int n_ev;
    uint64_t next_id;
    uint64_t got[4096]; /* request ids delivered to the app, in order */
    int n_got;
    bool echo;
} echo_t;

static void
echo_step(chan_server_t *srv, echo_t *e)
{
    chan_event_t ev;
    char site[CHAN_SITE_ID_MAX + 1];
    uint8_t *buf;
    size_t len;
    fl_errbuf_t eb = {{0}};

    while (chan_server_event(srv, &ev) == FL_OK) {
        if (e->n_ev < MAX_EVS) {
            e->ev[e->n_ev++] = ev;
        }
        if (ev.type == CHAN_EV_AUTHENTICATED) {
            uint8_t *w = tmsg_new(++e->next_id + 1000000, 0, 32, 7);
            fl_err_t rc = chan_server_welcome(srv, ev.site_id, w, 32, &eb);
            (void) rc;
            free(w);
        }
    }
    while (chan_server_recv(srv, site, &buf, &len) == FL_OK) {
        if (e->n_got < 4096) {
            e->got[e->n_got++] = get64(buf);
        }
        if (e->echo) {
            put64(buf + 8, get64(buf));
            put64(buf, ++e->next_id + 1000000);
            if (chan_server_send(srv, site, buf, len, 0, &eb) != FL_OK) {
                fprintf(stderr, "echo send: %s\n", eb.msg);
            }
        }
        free(buf);
    }
}

/* Finds an event of the type whose reason contains needle, or NULL. */
static const chan_event_t *
find_ev(const chan_event_t *ev, int n, chan_event_type_t type,
        const char *needle)
{
    int i;

    for (i = 0; i < n; i++) {
        if (ev[i].type == type &&
            (needle == NULL || strstr(ev[i].reason, needle) != NULL)) {
            return &ev[i];
        }
    }
    return NULL;
}

/* Client events collected by pump. */
typedef struct cev {
    chan_event_t ev[MAX_EVS];
    int n;
} cev_t;

static void
client_events(chan_client_t *cli, cev_t *c)
{
    chan_event_t ev;

    while (chan_client_event(cli, &ev) == FL_OK) {
        if (c->n < MAX_EVS) {
            c->ev[c->n++] = ev;
        }
    }
}

/* One round of both loops. */
static void
pump_once(chan_server_t *srv, echo_t *e, chan_client_t *cli, cev_t *c)
{
    fl_errbuf_t eb = {{0}};
    fl_err_t rc;

    if (srv != NULL) {
        rc = chan_server_poll(srv, 1, &eb);
        (void) rc;
        echo_step(srv, e);
    }
    if (cli != NULL) {
        rc = chan_client_poll(cli, 1, &eb);
        (void) rc;
        client_events(cli, c);
    }
}

/* Pumps until the client is ready or ms pass; returns readiness. */
static bool
pump_ready(chan_server_t *srv, echo_t *e, chan_client_t *cli, cev_t *c, int ms)
{
    int64_t end = fl_clock_mono_ms() + ms;

    while (fl_clock_mono_ms() < end) {
        pump_once(srv, e, cli, c);
        if (chan_client_is_ready(cli)) {
            return true;
        }
    }
    return false;
}

#endif
