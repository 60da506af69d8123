/*
 * sim/report.h: a simulation's figures as text, JSON, CSV and HTML.
 *
 * sim_report_write() fills a folder with:
 *   rounds.csv, rounds.json    one row per round: asked, updates, seconds,
 *                              CPU seconds, epsilon max and mean, held-out
 *                              accuracy and loss when evaluated
 *   nodes.csv, nodes.json      one row per hospital: rows, declared
 *                              records, byzantine, rounds joined and
 *                              charged, epsilon, held-out accuracy
 *   node_epsilon.csv           epsilon of every hospital after every round
 *   summary.json               sim_report_json()
 *   report.html                a self-contained page (no scripts, no
 *                              external files) with three inline SVG
 *                              charts: held-out accuracy against rounds
 *                              (id "chart-accuracy"), epsilon spent
 *                              against rounds per hospital
 *                              ("chart-epsilon"), and the final privacy-
 *                              utility point with the membership-inference
 *                              trade-off bound ("chart-privacy"), plus the
 *                              risk report's attack bounds as a table.
 * The HTML is well-formed XML (XHTML syntax) so tools can parse it.
 *
 * Pure output functions: no logging; thread-safe on distinct results.
 */
#ifndef SIM_REPORT_H
#define SIM_REPORT_H

#include <stdio.h>

#include "common/err.h"
#include "sim/run.h"

/* Writes the files above into dir (created if missing, mode 0755).
 * FL_OK or FL_ERR_IO / FL_ERR_NOMEM naming the file. */
fl_err_t sim_report_write(const sim_result_t *r, const char *dir,
                          fl_errbuf_t *eb) FL_WUR;

/* The run's summary as one JSON object and a newline. FL_OK, FL_ERR_IO,
 * FL_ERR_NOMEM. */
fl_err_t sim_report_json(const sim_result_t *r, FILE *f,
                         fl_errbuf_t *eb) FL_WUR;

/* The run's summary as text lines (the generator is named as seeded and
 * not for production). */
void sim_report_text(const sim_result_t *r, FILE *f);

/* The HTML page alone into f. FL_OK or FL_ERR_IO. */
fl_err_t sim_report_html(const sim_result_t *r, FILE *f,
                         fl_errbuf_t *eb) FL_WUR;

#endif
