/* coordinator/server_opt.c: plain, FedAvgM and FedAdam server steps. */
#include "coordinator/server_opt.h"

#include <math.h>
#include <stdlib.h>

size_t
coord_server_opt_state_vectors(pb_server_opt_t kind)
{
    switch (kind) {
    case PB_SERVER_PLAIN:
        return 0;
    case PB_SERVER_MOMENTUM:
        return 1;
    case PB_SERVER_ADAM:
        return 2;
    }
    return 0;
}

fl_err_t
coord_server_opt_new(pb_server_opt_t kind, size_t dim, double lr, double beta,
                     coord_server_opt_t **out, fl_errbuf_t *eb)
{
    coord_server_opt_t *opt;
    size_t vectors = coord_server_opt_state_vectors(kind);

    *out = NULL;
    if (dim == 0 || !(lr > 0) || !(beta >= 0 && beta < 1))
        return fl_fail(eb, FL_ERR_INVALID, "server optimiser: bad parameters");
    opt = calloc(1, sizeof *opt);
    if (opt == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "server optimiser: out of memory");
    opt->kind = kind;
    opt->dim = dim;
    opt->lr = lr;
    opt->beta = beta;
    if (vectors >= 1 && (opt->m = calloc(dim, sizeof *opt->m)) == NULL)
        goto nomem;
    if (vectors >= 2 && (opt->v = calloc(dim, sizeof *opt->v)) == NULL)
        goto nomem;
    *out = opt;
    return FL_OK;
nomem:
    coord_server_opt_destroy(&opt);
    return fl_fail(eb, FL_ERR_NOMEM, "server optimiser: out of memory");
}

void
coord_server_opt_destroy(coord_server_opt_t **opt_p)
{
    coord_server_opt_t *opt = *opt_p;

    if (opt == NULL)
        return;
    free(opt->m);
    free(opt->v);
    free(opt);
    *opt_p = NULL;
}

void
coord_server_opt_step(coord_server_opt_t *opt, float *model, const float *delta)
{
    const double lr = opt->lr;
    const double b = opt->beta;

    opt->steps++;
    for (size_t i = 0; i < opt->dim; i++) {
        double d = (double) delta[i];
        double step;

        switch (opt->kind) {
        case PB_SERVER_MOMENTUM:
            opt->m[i] = (float) (b * (double) opt->m[i] + d);
            step = (double) opt->m[i];
            break;
        case PB_SERVER_ADAM:
            opt->m[i] = (float) (b * (double) opt->m[i] + (1 - b) * d);
            opt->v[i] = (float) (COORD_ADAM_BETA2 * (double) opt->v[i] +
                                 (1 - COORD_ADAM_BETA2) * d * d);
            step = (double) opt->m[i] /
                   (sqrt((double) opt->v[i]) + COORD_ADAM_TAU);
            break;
        case PB_SERVER_PLAIN:
        default:
            step = d;
            break;
        }
        model[i] = (float) ((double) model[i] + lr * step);
    }
}
