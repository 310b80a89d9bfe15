/* output.h - a scan job's output files: one multi-page file (PDF, TIFF) or one file per page. */
#ifndef LB_SANE_OUTPUT_H
#define LB_SANE_OUTPUT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "../../bridge/util/error.h"
#include "pagefile.h"

/*
 * The files of one job in its folder, written row by row through pagefile.h: "scan.pdf" or
 * "scan.tif" holding every sheet, or "scan-1.png", "scan-2.png"... (PNG and JPEG hold one page).
 * Nothing is passed off as a result before sn_output_finish: a job that fails or is cancelled
 * destroys its output, which removes the temporary file and the pages already completed.
 */
typedef struct sn_output sn_output;

/* A new output of format name ("pdf", "png", "jpeg", "tiff") in folder: NULL with err set
 * (LB_ERR_INVALID_PARAMS for an unknown format). */
sn_output *sn_output_new(const char *folder, const char *format, lb_error *err);

/* Start the next page; 0 or negative with err set (pagefile's errors). */
int sn_output_begin_page(sn_output *o, const lb_page_shape *shape, lb_error *err);

/* Append n whole rows; 0 or negative with err set. */
int sn_output_rows(sn_output *o, const uint8_t *rows, size_t n, lb_error *err);

/* End the page (a page file is completed under its final name); 0 or negative with err set. */
int sn_output_end_page(sn_output *o, lb_error *err);

/*
 * Complete the output after `pages` sheets came from the scanner: the page count the files hold
 * is checked against it (LB_ERR_DEVICE "the PDF holds 2 pages, the scanner delivered 3"). 0 with
 * *names a new array of the result file names, or negative with err set: every file removed.
 * Frees o and nulls the pointer in every case.
 */
int sn_output_finish(sn_output **o, int pages, json_t **names, lb_error *err);

/* Give up: the temporary file and every completed page file removed, o freed and nulled.
 * Accepts NULL. */
void sn_output_destroy(sn_output **o);

#endif
