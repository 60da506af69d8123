/*
 * node/model.h: the model definition shared by node and coordinator.
 *
 * A model is a multilayer perceptron of dense layers written as a shape
 * string of widths, "30-64-64-2": 30 inputs, two hidden layers of 64 units,
 * 2 classes. Two widths ("30-2") is logistic (softmax) regression. Hidden
 * layers use ReLU or tanh; the output is softmax cross-entropy (a binary
 * task is 2 classes).
 *
 * Parameters are one flat contiguous float32 vector, the form that goes on
 * the wire. Layer l (0-based, in = widths[l], out = widths[l+1]) occupies
 * (in + 1) * out floats starting at node_model_layer_offset(m, l): first the
 * weight matrix W, in rows of out floats (row-major, W[i][j] links input i
 * to unit j), then the bias, one row of out floats. Read as one
 * (in + 1) x out matrix, the bias is the last row, so a layer is
 * [a, 1] x [W; b].
 *
 * This module needs nothing from the data loader or the trainer, so the
 * coordinator can use it alone.
 *
 * Ownership: node_model_parse() returns a model the caller frees with
 * node_model_destroy(). A model is immutable after creation: all accessors
 * are thread-safe.
 */
#ifndef NODE_MODEL_H
#define NODE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define NODE_MODEL_MAX_LAYERS 16        /* dense layers (widths - 1) */
#define NODE_MODEL_MAX_WIDTH 65536      /* units in any one layer */
#define NODE_MODEL_MAX_PARAMS 268435456 /* 2^28 floats = 1 GiB */
#define NODE_MODEL_MAX_SHAPE_LEN 256    /* characters of a shape string */

typedef enum node_activation {
    NODE_ACT_RELU = 0,
    NODE_ACT_TANH = 1
} node_activation_t;

typedef struct node_model node_model_t;

/*
 * Parses "relu" or "tanh" into *out. FL_ERR_PARSE (message names the
 * value) for anything else.
 */
fl_err_t node_activation_parse(const char *name, node_activation_t *out,
                               fl_errbuf_t *eb) FL_WUR;
/* "relu" or "tanh"; "?" for an invalid value. */
const char *node_activation_name(node_activation_t act);

/*
 * Parses a shape string of 2 to NODE_MODEL_MAX_LAYERS + 1 positive decimal
 * widths separated by '-', no spaces, the last at least 2 (classes).
 * Errors: FL_ERR_PARSE (malformed; the message names the position),
 * FL_ERR_LIMIT (too many layers, too wide, too many parameters),
 * FL_ERR_INVALID (bad activation), FL_ERR_NOMEM. *out is NULL on error.
 */
fl_err_t node_model_parse(const char *shape, node_activation_t act,
                          node_model_t **out, fl_errbuf_t *eb) FL_WUR;

/* Frees *m_p and sets it to NULL; NULL is fine. */
void node_model_destroy(node_model_t **m_p);

/* Number of dense layers (widths - 1), at least 1. */
size_t node_model_n_layers(const node_model_t *m);
/* Width i for i in [0, n_layers]: 0 is the input, n_layers the classes. */
size_t node_model_width(const node_model_t *m, size_t i);
size_t node_model_n_inputs(const node_model_t *m);
size_t node_model_n_classes(const node_model_t *m);
node_activation_t node_model_activation(const node_model_t *m);
/* Total number of floats in the flat parameter vector. */
size_t node_model_n_params(const node_model_t *m);
/* Offset of layer l's block (W then b) in the flat vector; l < n_layers. */
size_t node_model_layer_offset(const node_model_t *m, size_t l);

/*
 * Writes the canonical shape string ("30-64-64-2") into out (NUL
 * terminated). FL_ERR_LIMIT if outlen is too small.
 */
fl_err_t node_model_shape_string(const node_model_t *m, char *out,
                                 size_t outlen, fl_errbuf_t *eb) FL_WUR;

/*
 * Deterministic initialisation from seed: every weight of layer l is
 * uniform in [-r, r], with r = sqrt(6 / in) (He) for a layer followed by
 * ReLU and r = sqrt(6 / (in + out)) (Glorot) otherwise (tanh layers and the
 * output layer); biases are 0. The same seed gives bit-identical
 * parameters on every machine (SplitMix64, integer arithmetic, one float
 * multiply per value). n must equal node_model_n_params(m), else
 * FL_ERR_INVALID.
 */
fl_err_t node_model_init(const node_model_t *m, uint64_t seed, float *params,
                         size_t n, fl_errbuf_t *eb) FL_WUR;

#endif
