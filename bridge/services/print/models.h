/* models.h - the print service's model jobs (models.c): an uploaded 3D model sliced into
 * G-code, the weekly quota, the presets. Used by the service's requests (printing.c). Internal. */
#ifndef LB_PRINT_MODELS_H
#define LB_PRINT_MODELS_H

#include <stddef.h>
#include <stdint.h>

#include "print_state.h"

/* The queue just opened: the model limits from [print], and jobs a stop left slicing sliced
 * again. */
void print_models_open(lb_server *s, print_state *st);
/* Check a model upload's slicing parameters (params of print.upload: preset, scale, rotate)
 * for this caller: 0 with *preset (the config's or the default), *scale, *rotate set, or
 * LB_EFAIL with err set (an unknown or not offered preset, a student asking to scale). */
int print_models_params(lb_server *s, lb_call *c, const char **preset, double *scale,
			double *rotate, lb_error *err);
/* Start slicing model job id (state slicing); on failure the job fails with the reason. */
void print_models_slice(lb_server *s, print_state *st, long long id);
/* Stop job id's slicing if it is sliced: 1, else 0. */
int print_models_cancel(print_state *st, long long id, int64_t now_mono);
/* The slicers' notification fd (the service's wake_fd), -1 before any slicing. */
int print_models_fd(print_state *st);
/* The slicers' news (the service's wake): progress published, sliced jobs into the queue,
 * failures said. The number of jobs that became printable (the caller dispatches them). */
int print_models_wake(lb_server *s, print_state *st);
/* Whether job id of owner (role), needing time_s of printing and filament_g, passes the weekly
 * quota ([print] quota_hours, quota_filament_g; teachers have none): NULL, or why not (written
 * into why[cap]). */
const char *print_quota_hold(lb_server *s, print_state *st, long long id, const char *owner,
			     const char *role, double time_s, double filament_g, char *why,
			     size_t cap);
/* print.presets {}: the presets the caller may choose, the default, the printers' profiles. */
int m_print_presets(lb_server *s, lb_call *c, json_t **result, lb_error *err);

#endif
