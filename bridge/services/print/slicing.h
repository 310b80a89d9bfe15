/* slicing.h - the slicing stage of model jobs: a job's model checked against its printer's bed,
 * then sliced by PrusaSlicer with the job's preset, a few jobs at once. */
#ifndef LB_SLICING_H
#define LB_SLICING_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../../protocols/gcode.h"
#include "../../util/error.h"
#include "printq.h"
#include "profile.h"
#include "slicer.h"

/* How slicers run (the [print] options slicer, slice_time_s, slice_mem_mb, slicers). */
typedef struct lb_slicing_opts {
	const char *program;	   /* "prusa-slicer" or a path */
	int time_s, cpu_s, mem_mb; /* 0: the runner's defaults */
	int max;		   /* slicers at once; < 1: cores - 1 */
} lb_slicing_opts;

/* What a job's slicing asks for. */
typedef struct lb_slicing_job {
	long long id;			   /* the print job (state preparing, "slicing") */
	const lb_printer_profile *printer; /* copied */
	const lb_preset *preset;	   /* copied */
	double scale;			   /* percent, 0: 100 */
	double rotate;			   /* degrees about Z */
	const model_info *size;		   /* the model's size when known (its check at upload
					      measured it), else NULL: `prusa-slicer --info` first */
	gcode_policy policy;		   /* the sliced G-code is checked against it */
	int thumb_w, thumb_h;		   /* its picture's size (thumb.c); 0: none */
} lb_slicing_job;

/* What happened to a job's slicing (lb_slicing_next). */
typedef enum lb_slicing_what {
	LB_SLICING_PROGRESS, /* percent / stage moved */
	LB_SLICING_DONE,     /* gcode: the G-code, checked (meta), in the job's folder; extra:
				facts to keep; drawing: its picture follows (LB_SLICING_PICTURE) */
	LB_SLICING_FAILED,   /* error: why (a model too big, the slicer's message, cancelled) */
	LB_SLICING_PICTURE,  /* after DONE with drawing: thumb, the picture (or "": none) */
} lb_slicing_what;

typedef struct lb_slicing_event {
	long long id;
	lb_slicing_what what;
	int percent;
	char stage[64];
	char gcode[LB_SLICER_PATH];
	char work[LB_SLICER_PATH];  /* DONE, FAILED, PICTURE: the job's slicing folder, for the
				       receiver to remove (lb_rmtree) once it took the G-code (and
				       the picture); "" on a DONE whose picture follows */
	char thumb[LB_SLICER_PATH]; /* PICTURE: the PNG drawn from the G-code, "" when none */
	bool drawing;		    /* DONE: a PICTURE event follows for this job */
	json_t *meta;  /* DONE: the G-code check's facts (gcheck.h: time_s, filament...); taken */
	json_t *extra; /* DONE: {"size_mm": [x, y, z], "manifold": b, "turned": b?}; taken */
	lb_error error;
} lb_slicing_event;

typedef struct lb_slicing lb_slicing;

/* The stage, its slicers on a thread of their own (lb_slicer_worker); NULL with err set. */
lb_slicing *lb_slicing_new(const lb_slicing_opts *opts, lb_error *err);
/* Kill the running slicers, free all; *sl = NULL. Accepts NULL. */
void lb_slicing_destroy(lb_slicing **sl);
/* The descriptor readable when a job's slicing moved (the main loop's wake_fd). */
int lb_slicing_fd(const lb_slicing *sl);
/*
 * Start slicing job->id of queue q (its model is the job's input): a private folder "slice" in
 * the job's folder (emptied), the model linked there with the extension the slicer needs, the
 * PrusaSlicer INI of printer + preset; then, the model's size known, the fit check and the
 * slicing run queued; else `prusa-slicer --info` is queued first, the fit check and the slicing
 * following as lb_slicing_next sees it end. A job already slicing is started again. 0, or
 * LB_EFAIL with err set (the model does not fit the bed: its size in the message; the job is not
 * a model job, its folder cannot be made, a preset value out of range).
 */
int lb_slicing_start(lb_slicing *sl, lb_printq *q, const lb_slicing_job *job, lb_error *err);
/*
 * After lb_slicing_fd was readable (or at any time): the next thing that happened, into *ev (1),
 * or 0 when nothing is left to report. now: the monotonic clock (ns), for the runs it starts.
 * A slicing that ended well is reported DONE only after its G-code was checked against the
 * job's policy, on a thread of the stage's own (a large G-code takes about a second to read:
 * never on the caller's loop); refused by the policy, FAILED. Its picture (thumb_w > 0) is drawn
 * on that thread after DONE, from a link to the G-code (the receiver may move the G-code), and
 * reported as PICTURE: the job can be queued (and printed) before its picture exists.
 */
int lb_slicing_next(lb_slicing *sl, int64_t now, lb_slicing_event *ev);
/* Stop job id's slicing (its slicer killed): 0, or LB_EINVAL when it is not slicing here. No
 * event follows for it. */
int lb_slicing_cancel(lb_slicing *sl, long long id, int64_t now);
/* Job id's slicing as {percent, stage, position} (position: place among jobs waiting for a
 * slicer, 0 when running), a new object; NULL when it is not slicing here (nor when only its
 * picture is being drawn). */
json_t *lb_slicing_status(lb_slicing *sl, long long id);
/* Whether job id was sliced and its picture is being drawn (a PICTURE event will follow). */
bool lb_slicing_drawing(lb_slicing *sl, long long id);

#endif
