/*
 * node/model.c: shape parsing, parameter layout and seeded initialisation
 * of the MLP (see model.h).
 */
#include "node/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/prng.h"

struct node_model {
    size_t n_layers;
    size_t widths[NODE_MODEL_MAX_LAYERS + 1];
    size_t offsets[NODE_MODEL_MAX_LAYERS];
    size_t n_params;
    node_activation_t act;
};

fl_err_t
node_activation_parse(const char *name, node_activation_t *out, fl_errbuf_t *eb)
{
    if (name != NULL && strcmp(name, "relu") == 0) {
        *out = NODE_ACT_RELU;
        return FL_OK;
    }
    if (name != NULL && strcmp(name, "tanh") == 0) {
        *out = NODE_ACT_TANH;
        return FL_OK;
    }
    return fl_fail(eb, FL_ERR_PARSE,
                   "activation '%.64s': expected relu or tanh",
                   name != NULL ? name : "(null)");
}

const char *
node_activation_name(node_activation_t act)
{
    switch (act) {
    case NODE_ACT_RELU:
        return "relu";
    case NODE_ACT_TANH:
        return "tanh";
    }
    return "?";
}

/* Reads one width at s[*pos]; advances *pos past its digits. */
static fl_err_t
parse_width(const char *s, size_t *pos, size_t *out, fl_errbuf_t *eb)
{
    size_t i = *pos;
    size_t v = 0;

    if (s[i] < '0' || s[i] > '9') {
        return fl_fail(eb, FL_ERR_PARSE,
                       "model shape '%.64s': expected a width at "
                       "character %zu",
                       s, i + 1);
    }
    while (s[i] >= '0' && s[i] <= '9') {
        v = v * 10 + (size_t) (s[i] - '0');
        if (v > NODE_MODEL_MAX_WIDTH) {
            return fl_fail(eb, FL_ERR_LIMIT,
                           "model shape '%.64s': width at character %zu "
                           "exceeds %d",
                           s, *pos + 1, NODE_MODEL_MAX_WIDTH);
        }
        i++;
    }
    if (v == 0) {
        return fl_fail(eb, FL_ERR_PARSE,
                       "model shape '%.64s': width 0 at character %zu", s,
                       *pos + 1);
    }
    *pos = i;
    *out = v;
    return FL_OK;
}

static fl_err_t
parse_widths(const char *shape, node_model_t *m, fl_errbuf_t *eb)
{
    size_t pos = 0;
    size_t n = 0;
    fl_err_t err;

    for (;;) {
        if (n == NODE_MODEL_MAX_LAYERS + 1) {
            return fl_fail(eb, FL_ERR_LIMIT,
                           "model shape '%.64s': more than %d layers", shape,
                           NODE_MODEL_MAX_LAYERS);
        }
        err = parse_width(shape, &pos, &m->widths[n], eb);
        if (err != FL_OK) {
            return err;
        }
        n++;
        if (shape[pos] == '\0') {
            break;
        }
        if (shape[pos] != '-') {
            return fl_fail(eb, FL_ERR_PARSE,
                           "model shape '%.64s': unexpected '%c' at "
                           "character %zu",
                           shape, shape[pos], pos + 1);
        }
        pos++;
    }
    if (n < 2) {
        return fl_fail(eb, FL_ERR_PARSE,
                       "model shape '%.64s': needs at least an input and an "
                       "output width",
                       shape);
    }
    if (m->widths[n - 1] < 2) {
        return fl_fail(eb, FL_ERR_PARSE,
                       "model shape '%.64s': the output needs at least 2 "
                       "classes",
                       shape);
    }
    m->n_layers = n - 1;
    return FL_OK;
}

fl_err_t
node_model_parse(const char *shape, node_activation_t act, node_model_t **out,
                 fl_errbuf_t *eb)
{
    node_model_t *m = NULL;
    fl_err_t err = FL_OK;
    size_t total = 0;

    *out = NULL;
    if (shape == NULL || strlen(shape) > NODE_MODEL_MAX_SHAPE_LEN) {
        return fl_fail(eb, FL_ERR_LIMIT,
                       "model shape: missing or longer "
                       "than %d characters",
                       NODE_MODEL_MAX_SHAPE_LEN);
    }
    if (act != NODE_ACT_RELU && act != NODE_ACT_TANH) {
        return fl_fail(eb, FL_ERR_INVALID, "model: invalid activation %d",
                       (int) act);
    }
    m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return fl_fail(eb, FL_ERR_NOMEM, "model: out of memory");
    }
    m->act = act;
    err = parse_widths(shape, m, eb);
    if (err != FL_OK) {
        goto out;
    }
    for (size_t l = 0; l < m->n_layers; l++) {
        /* Each term is below 2^33 (widths <= 2^16), so no overflow. */
        m->offsets[l] = total;
        total += (m->widths[l] + 1) * m->widths[l + 1];
        if (total > NODE_MODEL_MAX_PARAMS) {
            err = fl_fail(eb, FL_ERR_LIMIT,
                          "model shape '%.64s': more than %d parameters", shape,
                          NODE_MODEL_MAX_PARAMS);
            goto out;
        }
    }
    m->n_params = total;
out:
    if (err != FL_OK) {
        free(m);
        m = NULL;
    }
    *out = m;
    return err;
}

void
node_model_destroy(node_model_t **m_p)
{
    if (m_p == NULL) {
        return;
    }
    free(*m_p);
    *m_p = NULL;
}

size_t
node_model_n_layers(const node_model_t *m)
{
    return m->n_layers;
}

size_t
node_model_width(const node_model_t *m, size_t i)
{
    return i <= m->n_layers ? m->widths[i] : 0;
}

size_t
node_model_n_inputs(const node_model_t *m)
{
    return m->widths[0];
}

size_t
node_model_n_classes(const node_model_t *m)
{
    return m->widths[m->n_layers];
}

node_activation_t
node_model_activation(const node_model_t *m)
{
    return m->act;
}

size_t
node_model_n_params(const node_model_t *m)
{
    return m->n_params;
}

size_t
node_model_layer_offset(const node_model_t *m, size_t l)
{
    return l < m->n_layers ? m->offsets[l] : m->n_params;
}

fl_err_t
node_model_shape_string(const node_model_t *m, char *out, size_t outlen,
                        fl_errbuf_t *eb)
{
    size_t used = 0;

    for (size_t i = 0; i <= m->n_layers; i++) {
        int k = snprintf(out + used, outlen - used, "%s%zu", i ? "-" : "",
                         m->widths[i]);
        if (k < 0 || (size_t) k >= outlen - used) {
            return fl_fail(eb, FL_ERR_LIMIT,
                           "model shape string: buffer of %zu too small",
                           outlen);
        }
        used += (size_t) k;
    }
    return FL_OK;
}

fl_err_t
node_model_init(const node_model_t *m, uint64_t seed, float *params, size_t n,
                fl_errbuf_t *eb)
{
    node_prng_t prng;

    if (params == NULL || n != m->n_params) {
        return fl_fail(eb, FL_ERR_INVALID,
                       "model init: vector has %zu floats, model needs %zu", n,
                       m->n_params);
    }
    node__prng_seed(&prng, seed);
    for (size_t l = 0; l < m->n_layers; l++) {
        size_t in = m->widths[l];
        size_t outw = m->widths[l + 1];
        int relu_next = (l + 1 < m->n_layers) && m->act == NODE_ACT_RELU;
        double fan = relu_next ? (double) in : (double) (in + outw);
        float r = (float) sqrt(6.0 / fan);
        float *w = params + m->offsets[l];

        for (size_t i = 0; i < in * outw; i++) {
            w[i] = (2.0f * node__prng_float(&prng) - 1.0f) * r;
        }
        memset(w + in * outw, 0, outw * sizeof(float));
    }
    return FL_OK;
}
