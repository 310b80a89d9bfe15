/* thumb.h - a picture of a sliced model, drawn by the bridge from the moves of its G-code file. */
#ifndef LB_PRINT_THUMB_H
#define LB_PRINT_THUMB_H

#include "../../util/error.h"

#define LB_THUMB_MAX 1024 /* largest width or height, pixels */

/*
 * Render the extruding moves of the G-code file at gcode as a w x h picture (a view from the
 * front-left and above, layers shaded darker towards the bed, transparent background), written as
 * a PNG to png (made or replaced through a temporary file in the same folder and a rename). Reads
 * the file twice, line by line (memory: the image at twice its size, and 64 KiB); the slicers'
 * start G-code (before the first layer marker), skirt and brim are left out when the file has
 * layer markers, lines longer than 4 KiB ignored. Returns 0, or LB_EFAIL with err:
 * LB_ERR_INVALID_PARAMS when w or h is not in 1..LB_THUMB_MAX or the file has no extruding move;
 * LB_ERR_INTERNAL on an I/O error (png left as it was).
 */
int lb_gcode_thumbnail(const char *gcode, const char *png, int w, int h, lb_error *err);

#endif
