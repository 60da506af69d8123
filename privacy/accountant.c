/*
 * privacy/accountant.c: the accountant facade (RDP or PLD) over a history
 * of subsampled Gaussian mechanisms. See accountant.h.
 */
#include "privacy/accountant.h"

#include <math.h>
#include <string.h>

#include "privacy/pld.h"
#include "privacy/rdp.h"

const char *
dp_accountant_kind_name(dp_accountant_kind_t kind)
{
    switch (kind) {
    case DP_ACCOUNTANT_RDP:
        return "rdp";
    case DP_ACCOUNTANT_PLD:
        return "pld";
    }
    return "unknown";
}

fl_err_t
dp_accountant_kind_parse(const char *name, dp_accountant_kind_t *out)
{
    if (name == NULL || out == NULL) {
        return FL_ERR_INVALID;
    }
    if (strcmp(name, "rdp") == 0) {
        *out = DP_ACCOUNTANT_RDP;
        return FL_OK;
    }
    if (strcmp(name, "pld") == 0) {
        *out = DP_ACCOUNTANT_PLD;
        return FL_OK;
    }
    return FL_ERR_INVALID;
}

const char *
dp_orders_name(dp_orders_t orders)
{
    switch (orders) {
    case DP_ORDERS_DEFAULT:
        return "default";
    case DP_ORDERS_OPACUS:
        return "opacus";
    }
    return "unknown";
}

fl_err_t
dp_orders_parse(const char *name, dp_orders_t *out)
{
    if (name == NULL || out == NULL) {
        return FL_ERR_INVALID;
    }
    if (strcmp(name, "default") == 0) {
        *out = DP_ORDERS_DEFAULT;
        return FL_OK;
    }
    if (strcmp(name, "opacus") == 0) {
        *out = DP_ORDERS_OPACUS;
        return FL_OK;
    }
    return FL_ERR_INVALID;
}

static fl_err_t
check_opts(const dp_accountant_opts_t *o, fl_errbuf_t *eb)
{
    if (o->kind != DP_ACCOUNTANT_RDP && o->kind != DP_ACCOUNTANT_PLD) {
        return fl_fail(eb, FL_ERR_INVALID, "accountant: unknown kind %d",
                       (int) o->kind);
    }
    if (o->orders != DP_ORDERS_DEFAULT && o->orders != DP_ORDERS_OPACUS) {
        return fl_fail(eb, FL_ERR_INVALID, "accountant: unknown order grid %d",
                       (int) o->orders);
    }
    if (!(o->pld_interval >= 0.0) || !isfinite(o->pld_interval)) {
        return fl_fail(eb, FL_ERR_INVALID,
                       "accountant: PLD interval %g is not a finite "
                       "number >= 0",
                       o->pld_interval);
    }
    return FL_OK;
}

fl_err_t
dp_accountant_epsilon(const dp_accountant_opts_t *opts, const dp_sgm_t *hist,
                      size_t n, double delta, dp_epsilon_t *out,
                      fl_errbuf_t *eb)
{
    static const dp_accountant_opts_t defaults = {DP_ACCOUNTANT_RDP,
                                                  DP_ORDERS_DEFAULT, 0.0};
    const dp_accountant_opts_t *o = opts != NULL ? opts : &defaults;
    dp_epsilon_t res = {0.0, delta, 0.0};
    fl_err_t err;

    if (out == NULL || (n > 0 && hist == NULL)) {
        return fl_fail(eb, FL_ERR_INVALID, "accountant: NULL argument");
    }
    if (!(delta > 0.0 && delta < 1.0)) {
        return fl_fail(eb, FL_ERR_INVALID, "accountant: delta %g not in (0, 1)",
                       delta);
    }
    err = check_opts(o, eb);
    if (err != FL_OK) {
        return err;
    }
    if (n == 0) {
        /* Nothing ran: nothing was spent. */
        *out = res;
        return FL_OK;
    }
    if (o->kind == DP_ACCOUNTANT_RDP) {
        const dp_rdp_grid_t grid = o->orders == DP_ORDERS_OPACUS
                                       ? DP_RDP_GRID_OPACUS
                                       : DP_RDP_GRID_DEFAULT;

        err =
            dp_rdp_epsilon(hist, n, grid, delta, &res.epsilon, &res.order, eb);
    } else {
        /* pld_interval 0 selects the PLD default (it takes <= 0 as that). */
        err = dp_pld_epsilon(hist, n, delta, o->pld_interval, &res.epsilon, eb);
        res.order = 0.0;
    }
    if (err != FL_OK) {
        return err;
    }
    *out = res;
    return FL_OK;
}
