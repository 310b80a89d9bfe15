/* gcheck.h - the printer family's check of a G-code file, in the shape of a job validation hook. */
#ifndef LB_GCHECK_H
#define LB_GCHECK_H

#include <jansson.h>

#include "../../../protocols/gcode.h"
#include "../../util/error.h"

/*
 * Check the G-code file at path against the safety policy (a const gcode_policy *, or NULL for
 * none), reading it line by line (never whole in memory): every line clean (no control byte,
 * fits GCODE_CMD_MAX once cleaned, 64 KiB raw) and blank, a comment or a G/M/T command
 * (gcode_is_command), every command allowed, at least one command. The
 * signature is lb_job_validate_fn (services/jobs/jobs.h): the job store calls it without knowing
 * G-code. 0 with *meta a new object {slicer, time_s, filament_mm, filament_g, layer_count, lines,
 * commands, thumbnails: [{width, height, offset, end}]}, or LB_EFAIL with err set:
 * LB_ERR_INVALID_PARAMS naming the line for a refused file ("line 12: M104 S300: hotend 300 °C
 * is above the limit of 250 °C", "line 1: 'solid c' is not a G-code command: this looks like an
 * STL model (ASCII); ..."; a binary model: "not G-code: this looks like a 3MF model; ..."),
 * LB_ERR_INTERNAL when it cannot be read.
 */
int lb_gcode_check_file(void *policy, const char *path, json_t **meta, lb_error *err);

#endif
