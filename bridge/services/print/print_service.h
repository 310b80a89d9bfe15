/* print_service.h - what the print service's files share (its requests and dispatcher in
 * printing.c, its model jobs in models.c): the service's state and helpers. Internal. */
#ifndef LB_PRINT_SERVICE_H
#define LB_PRINT_SERVICE_H

#include <jansson.h>
#include <stdbool.h>
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

/* The service's state in s (made by print_init, so never NULL while the server runs). */
print_state *P(lb_server *s);
/* The queue, opened on first use over the server's job store (lb_jobs_shared); NULL with err
 * set when the data directory is unusable. */
lb_printq *need_printq(lb_server *s, lb_error *err);
/* Whether a yes/no option of [print] is on (def when unset). */
int print_flag(lb_server *s, const char *key, int def);
/* The safety policy from [print]; 0 or negative with err set (a bad config entry). */
int print_policy(lb_server *s, gcode_policy *p, lb_error *err);
/* A job as clients see it, "slicing" progress included; NULL when there is no such job. */
json_t *job_view(lb_server *s, long long id);
/* Publish a queue change on bridge/queue/: {event, id, job}. */
void queue_changed(lb_server *s, const char *event, long long id);
/* Hand approved jobs to idle printers. */
void print_dispatch(lb_server *s);
/* The caller's identity (the kernel's or its key's, never a name it chose). */
const char *who(const lb_call *c);

/* --- model jobs (models.c) --- */

/* The queue just opened: the model limits from [print], and jobs a stop left slicing sliced
 * again. */
void print_models_open(lb_server *s);
/* Check a model upload's slicing parameters (params of print.upload: preset, scale, rotate)
 * for this caller: 0 with *preset (the config's or the default), *scale, *rotate set, or
 * LB_EFAIL with err set (an unknown or not offered preset, a student asking to scale). */
int print_models_params(lb_server *s, lb_call *c, const char **preset, double *scale,
			double *rotate, lb_error *err);
/* Start slicing model job id (state slicing); on failure the job fails with the reason. */
void print_models_slice(lb_server *s, long long id);
/* Stop job id's slicing if it is sliced: 1, else 0. */
int print_models_cancel(lb_server *s, long long id, int64_t now_mono);
/* The service's wake_fd and wake hooks: the slicers' notification. */
int print_models_fd(lb_server *s);
void print_models_wake(lb_server *s);
/* The picture of a model job's toolpaths: its result name and size. */
#define LB_PRINT_THUMB_NAME "thumbnail.png"
#define LB_PRINT_THUMB_WIDTH 220
#define LB_PRINT_THUMB_HEIGHT 124
/* Whether job id of owner (role), needing time_s of printing and filament_g, passes the weekly
 * quota ([print] quota_hours, quota_filament_g; teachers have none): NULL, or why not (written
 * into why[cap]). */
const char *print_quota_hold(lb_server *s, long long id, const char *owner, const char *role,
			     double time_s, double filament_g, char *why, size_t cap);
/* print.presets {}: the presets the caller may choose, the default, the printers' profiles. */
int m_print_presets(lb_server *s, lb_call *c, json_t **result, lb_error *err);

#endif
