/* print_state.h - the print service's state, shared by its requests (printing.c) and its model
 * jobs (models.c), and what both do with it: a job as clients see it, a queue change published.
 * Internal; includes neither file's header, so the two never include each other. */
#ifndef LB_PRINT_STATE_H
#define LB_PRINT_STATE_H

#include <jansson.h>
#include <stdint.h>

#include "../../core/service.h"
#include "printq.h"
#include "slicing.h"

/* What the print service keeps in the server (lb_service_state). */
typedef struct print_state {
	lb_printq *printq; /* opened on first use */
	json_t *busy;	   /* {printer id: job id} handed to a printer, not finished */
	json_t *tokens;	   /* {token: job id} of "print" calls awaiting the printer's answer */
	uint64_t queue_seq;
	lb_slicing *slicing; /* model jobs' slicers, made on first use */
} print_state;

/* The picture of a model job's toolpaths: its result name and size. */
#define LB_PRINT_THUMB_NAME "thumbnail.png"
#define LB_PRINT_THUMB_WIDTH 220
#define LB_PRINT_THUMB_HEIGHT 124

/* Job id of st's queue as clients see it (lb_printq_job) with, while it is sliced, "slicing":
 * {percent, stage, position}; NULL when there is no such job (or no queue yet). */
json_t *print_job_view(print_state *st, long long id);
/* Publish a change of job id on bridge/queue/ (st's sequence): {event, id, job}. Never fails
 * (a job that is gone is published as null). */
void print_queue_changed(lb_server *s, print_state *st, const char *event, long long id);

#endif
