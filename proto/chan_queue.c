/*
 * proto/chan_queue.c: the channel's small containers: a FIFO of owned
 * messages (inboxes, kept requests, cached replies), a bounded ring of
 * recently delivered message ids (duplicate detection) and a bounded event
 * queue (a flood of refused peers cannot grow it: extra events are counted
 * and dropped).
 */
#include "proto/chan_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

chan__msg_t *
chan__msg_new(const uint8_t *buf, size_t len, bool copy)
{
    chan__msg_t *m = calloc(1, sizeof(*m));

    if (m == NULL) {
        return NULL;
    }
    if (copy) {
        m->buf = malloc(len ? len : 1);
        if (m->buf == NULL) {
            free(m);
            return NULL;
        }
        memcpy(m->buf, buf, len);
    } else {
        m->buf = (uint8_t *) buf;
    }
    m->len = len;
    return m;
}

void
chan__msg_free(chan__msg_t *m)
{
    if (m != NULL) {
        free(m->buf);
        free(m);
    }
}

void
chan__fifo_push(chan__fifo_t *q, chan__msg_t *m)
{
    m->next = NULL;
    if (q->tail != NULL) {
        q->tail->next = m;
    } else {
        q->head = m;
    }
    q->tail = m;
    q->count++;
    q->bytes += m->len;
}

chan__msg_t *
chan__fifo_pop(chan__fifo_t *q)
{
    chan__msg_t *m = q->head;

    if (m == NULL) {
        return NULL;
    }
    q->head = m->next;
    if (q->head == NULL) {
        q->tail = NULL;
    }
    q->count--;
    q->bytes -= m->len;
    m->next = NULL;
    return m;
}

chan__msg_t *
chan__fifo_take(chan__fifo_t *q, uint64_t id)
{
    chan__msg_t *prev = NULL, *m;

    for (m = q->head; m != NULL; prev = m, m = m->next) {
        if (m->id != id) {
            continue;
        }
        if (prev != NULL) {
            prev->next = m->next;
        } else {
            q->head = m->next;
        }
        if (q->tail == m) {
            q->tail = prev;
        }
        q->count--;
        q->bytes -= m->len;
        m->next = NULL;
        return m;
    }
    return NULL;
}

void
chan__fifo_clear(chan__fifo_t *q)
{
    chan__msg_t *m;

    while ((m = chan__fifo_pop(q)) != NULL) {
        chan__msg_free(m);
    }
}

bool
chan__seen_has(const chan__seen_t *s, uint64_t id)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        if (s->ids[i] == id) {
            return true;
        }
    }
    return false;
}

void
chan__seen_add(chan__seen_t *s, uint64_t id)
{
    s->ids[s->next] = id;
    s->next = (s->next + 1) % CHAN__SEEN_MAX;
    if (s->n < CHAN__SEEN_MAX) {
        s->n++;
    }
}

void
chan__evq_push(chan__evq_t *q, chan_event_type_t type, const char *site_id,
               const char *fpr, const char *addr, const char *fmt, ...)
{
    chan_event_t *ev;
    va_list ap;

    if (q->count == CHAN__EVQ_MAX) {
        q->dropped++;
        return;
    }
    ev = &q->ev[(q->head + q->count) % CHAN__EVQ_MAX];
    q->count++;
    ev->type = type;
    chan__strlcpy(ev->site_id, site_id, sizeof(ev->site_id));
    chan__strlcpy(ev->fingerprint, fpr, sizeof(ev->fingerprint));
    chan__strlcpy(ev->peer_addr, addr, sizeof(ev->peer_addr));
    va_start(ap, fmt);
    vsnprintf(ev->reason, sizeof(ev->reason), fmt, ap);
    va_end(ap);
}

bool
chan__evq_pop(chan__evq_t *q, chan_event_t *ev)
{
    if (q->count == 0) {
        return false;
    }
    *ev = q->ev[q->head];
    q->head = (q->head + 1) % CHAN__EVQ_MAX;
    q->count--;
    return true;
}

const char *
chan_event_name(chan_event_type_t type)
{
    switch (type) {
    case CHAN_EV_AUTHENTICATED:
        return "authenticated";
    case CHAN_EV_REFUSED:
        return "refused";
    case CHAN_EV_CLOSED:
        return "closed";
    case CHAN_EV_READY:
        return "ready";
    case CHAN_EV_PROTO:
        return "protocol-error";
    case CHAN_EV_NONE:
        break;
    }
    return "none";
}
