/* writer.h - a scan job's output written by a thread of its own, fed with the bands as read. */
#ifndef LB_SANE_WRITER_H
#define LB_SANE_WRITER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "../../bridge/util/error.h"
#include "band.h"
#include "output.h"

/*
 * The device thread reads and publishes; the job's files are encoded and written meanwhile by
 * the writer's thread, so that a slow encoder (PNG, deflate) no longer paces the stream. The
 * device thread queues the operations (rows of a band, shared by reference: no copy; page
 * begins and ends; the finish), which the writer carries out in order on the sn_output. The
 * queue is bounded by the caller: sn_writer_queued says how many bytes of rows wait, and the
 * writer's eventfd (sn_writer_fd) wakes the device thread after sn_writer_arm once an operation
 * is done. The first error stops the writing (the rest is dropped); the device thread finds it
 * with sn_writer_state. Every call except the thread's own is the device thread's.
 */
typedef struct sn_writer sn_writer;

/* A writer thread for output o (taken over, also on failure) whose files are in folder: NULL
 * with err set when the thread or its eventfd cannot be made (o then destroyed). */
sn_writer *sn_writer_new(sn_output *o, const char *folder, lb_error *err);

/* Queue n rows (bytes of them from rows, inside band b, which gets a reference of its own).
 * 0 or LB_ENOMEM. */
int sn_writer_rows(sn_writer *w, sn_band *b, const uint8_t *rows, size_t n, size_t bytes);

/* Queue the start of a page of that shape, its end, or the output's completion after `pages`
 * sheets (sn_output_finish). 0 or LB_ENOMEM. */
int sn_writer_begin_page(sn_writer *w, const lb_page_shape *shape);
int sn_writer_end_page(sn_writer *w);
int sn_writer_finish(sn_writer *w, int pages);

/* Bytes of rows queued and not yet written. */
size_t sn_writer_queued(const sn_writer *w);

/*
 * 0 while writing (or idle), 1 once the finish is done (*names, when not NULL, takes over the
 * array of the result file names: the files are the caller's then), negative with err set
 * after an error (the output's or out of memory).
 */
int sn_writer_state(sn_writer *w, json_t **names, lb_error *err);

/* Have the eventfd signalled after the next operation done (or an error); then check again
 * what was waited for, and poll sn_writer_fd. sn_writer_fd's counter is reset by
 * sn_writer_drain. */
void sn_writer_arm(sn_writer *w);
int sn_writer_fd(const sn_writer *w);
void sn_writer_drain(sn_writer *w);

/*
 * Stop: the operation under way ends (one band or one page end at most), the rest is dropped,
 * the thread is joined, and every file of the output not handed over by sn_writer_state is
 * removed (partial ones and completed pages: a job cut short leaves nothing). Accepts NULL;
 * nulls the pointer.
 */
void sn_writer_destroy(sn_writer **w);

#endif
