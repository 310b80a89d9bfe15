/* toolpath.h - the moves of a G-code file, line by line: where the nozzle goes and whether it
 * extrudes (for pictures of sliced models; a pure state machine, no I/O). */
#ifndef LB_PROTO_TOOLPATH_H
#define LB_PROTO_TOOLPATH_H

#include <stddef.h>

#define TOOLPATH_MAX_MM 1e5 /* an X, Y or Z beyond this (or NaN/inf) is ignored */
#define TOOLPATH_MAX_E 1e9  /* E: absolute E grows with the print (100 m of filament: 1e5 mm) */

/* What the slicer's ";TYPE:" comments say the following moves are part of. */
typedef enum toolpath_part {
	TOOLPATH_PART_OBJECT = 0, /* the model (perimeters, infill, supports...), or unknown */
	TOOLPATH_PART_SKIRT,	  /* ";TYPE:Skirt/Brim" (PrusaSlicer), ";TYPE:SKIRT" (Cura) */
	TOOLPATH_PART_CUSTOM,	  /* ";TYPE:Custom": PrusaSlicer's start and end G-code */
} toolpath_part;

/* One straight move, from (x0, y0, z0) to (x1, y1, z1), in mm. */
typedef struct toolpath_seg {
	double x0, y0, z0, x1, y1, z1;
	int extruding;	    /* E increased (relative: E > 0) with an XY move */
	toolpath_part part; /* as the last ";TYPE:" comment said */
	long layer;	    /* layer markers (";LAYER_CHANGE", ";LAYER:n") seen before: 0 = none */
} toolpath_seg;

/* The machine's state (zero-initialise with toolpath_init). */
typedef struct toolpath {
	double x, y, z, e; /* current position, mm */
	int rel_xyz;	   /* G91 */
	int rel_e;	   /* M83 (or G91) */
	double unit;	   /* 1 (G21, mm) or 25.4 (G20, inches) */
	toolpath_part part;
	long layer;
	long lines; /* lines fed */
	long moves; /* segments reported */
} toolpath;

/* Start state: at the origin, absolute coordinates and E, millimetres. Never fails. */
void toolpath_init(toolpath *t);

/*
 * Feed one line of the file (len bytes, its '\n' or "\r\n" optional; any bytes, no NUL needed).
 * Understands G0/G1 (X Y Z E; F ignored), G2/G3 (the chord to the arc's end), G90/G91, M82/M83,
 * G92 (X Y Z E set; no parameter: all 0), G28 (the named axes, or all, to 0), G20/G21, a leading
 * "N<n>" and a trailing "*<cs>" (not verified), comments ';' and '(...)', and the slicers'
 * ";TYPE:" and layer comments. Returns 1 with *seg filled when the line moves the nozzle (even
 * without extruding), else 0 (not a move, a move to where it already is, a malformed line: such
 * lines change nothing but what they parsed). A coordinate that is NaN, infinite or beyond
 * TOOLPATH_MAX_MM (also once made absolute; E: TOOLPATH_MAX_E) is ignored.
 */
int toolpath_line(toolpath *t, const char *line, size_t len, toolpath_seg *seg);

#endif
