/*
 * node/mlp.h: the MLP compute engine on OpenBLAS: forward pass, softmax
 * cross-entropy, backward pass, per-example gradient norms without
 * materialising per-example gradients, and (weighted) gradient sums.
 *
 * A workspace holds every buffer for up to `capacity` examples, allocated
 * once. Each layer's input is kept with an extra column of ones, so a layer
 * is one GEMM [a, 1] x [W; b] (the parameter layout of model.h) and its
 * gradient sum is one GEMM [A, 1]^T x G.
 *
 * Ghost norms: example i's gradient for layer l is the outer product
 * [a_i, 1]^T g_i, whose squared Frobenius norm is (|a_i|^2 + 1) |g_i|^2.
 * The forward and backward passes accumulate |a_i|^2 and |g_i|^2 in the
 * same loops that apply the activations, so norms cost no extra pass.
 *
 * Typical use (the trainer): write the inputs into node_mlp_input(), their
 * squared norms into node_mlp_input_sqnorm() (or node_mlp_input_norms()),
 * then node_mlp_forward(), node_mlp_loss(), node_mlp_backward(),
 * node_mlp_example_sqnorms(), node_mlp_grad_sum().
 *
 * Ownership: the caller frees a workspace with node_mlp_destroy(); the
 * model must outlive it. Not thread-safe: one workspace per thread.
 */
#ifndef NODE_MLP_H
#define NODE_MLP_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "node/model.h"

typedef struct node_mlp node_mlp_t;

/*
 * Allocates a workspace for up to capacity (>= 1) examples.
 * FL_ERR_INVALID, FL_ERR_LIMIT (buffers over 2^31 floats), FL_ERR_NOMEM.
 */
fl_err_t node_mlp_new(const node_model_t *model, size_t capacity,
                      node_mlp_t **out, fl_errbuf_t *eb) FL_WUR;
void node_mlp_destroy(node_mlp_t **ws_p);

/*
 * The input buffer: capacity rows of node_mlp_input_ld() floats. The
 * caller writes example i's features into row i, columns [0, n_inputs);
 * the column after them is the bias' one, set by node_mlp_forward().
 */
float *node_mlp_input(node_mlp_t *ws);
size_t node_mlp_input_ld(const node_mlp_t *ws);
/* Row i: |x_i|^2 of the features (without the bias' one). */
float *node_mlp_input_sqnorm(node_mlp_t *ws);
/* Computes node_mlp_input_sqnorm() from the first n input rows. */
void node_mlp_input_norms(node_mlp_t *ws, size_t n);

/*
 * Forward pass on the first n (<= capacity) input rows with the flat
 * parameter vector. With norms set, also accumulates the squared norms of
 * every hidden layer's activations (for the ghost norms).
 */
void node_mlp_forward(node_mlp_t *ws, const float *params, size_t n, int norms);

/*
 * Softmax cross-entropy for the n examples of the last forward pass with
 * labels in [0, n_classes): turns the logits into probabilities (see
 * node_mlp_probs()), writes the output gradient p - onehot of each
 * example's own loss, and returns the sum of the losses (natural log). If
 * loss_out is non-NULL, example i's loss goes to loss_out[i]. With norms,
 * also the output gradients' squared norms.
 */
double node_mlp_loss(node_mlp_t *ws, const int32_t *labels, size_t n, int norms,
                     float *loss_out);

/* Class probabilities after node_mlp_loss() or node_mlp_predict(). */
const float *node_mlp_probs(const node_mlp_t *ws);

/* Forward pass then softmax without labels (evaluation). */
void node_mlp_predict(node_mlp_t *ws, const float *params, size_t n);

/*
 * Back-propagates the output gradients to every layer's output gradient
 * (the input gradient of layer 0 is not needed and not computed). With
 * norms, also their squared norms.
 */
void node_mlp_backward(node_mlp_t *ws, const float *params, size_t n,
                       int norms);

/*
 * After forward, loss and backward all with norms: writes example i's
 * squared L2 gradient norm over all parameters into sq[i] (double), from
 * sum over layers of (|a_i|^2 + 1) |g_i|^2.
 */
void node_mlp_example_sqnorms(const node_mlp_t *ws, size_t n, double *sq);

/*
 * Gradient sum over the n examples: grad (n_params floats) =
 * beta * grad + sum_i w_i * gradient_i, one GEMM per layer. weights NULL
 * means all 1. Consumes the workspace: with weights, it scales the rows of
 * the narrower of each layer's input or output gradient in place, so call
 * it once per backward pass. beta is 0 (overwrite) or 1 (accumulate).
 */
void node_mlp_grad_sum(node_mlp_t *ws, size_t n, const float *weights,
                       float beta, float *grad);

#endif
