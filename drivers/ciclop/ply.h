/* ply.h - binary PLY writer for scanned points (float x y z, uchar red green blue), point by point.
 */
#ifndef LB_CICLOP_PLY_H
#define LB_CICLOP_PLY_H

#include <stdio.h>

#include "recon.h"

#define CICLOP_PLY_MAX 4000000000UL /* vertices one file may hold (the count's field width) */

typedef struct ciclop_ply ciclop_ply;

/*
 * Start a PLY on f (opened for writing, seekable; not closed by the writer): writes the header
 * with a vertex count to patch at the end. Returns NULL when out of memory or the write fails.
 */
ciclop_ply *ciclop_ply_new(FILE *f);

/* Append one point (15 bytes, little-endian). Returns 0, LB_EFAIL on a write error, LB_EINVAL
 * when CICLOP_PLY_MAX points were already written. */
int ciclop_ply_add(ciclop_ply *ply, const ciclop_point *p);

/* Patch the vertex count into the header and flush. Returns 0, or LB_EFAIL on an I/O error
 * (after any earlier error the file is not a valid result). */
int ciclop_ply_finish(ciclop_ply *ply);

/* The number of points written so far. */
unsigned long ciclop_ply_count(const ciclop_ply *ply);

/* Free the writer (not the file); accepts NULL and *ply NULL; sets *ply to NULL. */
void ciclop_ply_destroy(ciclop_ply **ply);

#endif
