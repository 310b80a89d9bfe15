/* mcheck.h - the print service's check of an uploaded 3D model (STL, 3MF, OBJ) before slicing. */
#ifndef LB_MCHECK_H
#define LB_MCHECK_H

#include <jansson.h>
#include <stdint.h>

#include "../../../protocols/model.h"
#include "../../util/error.h"

#define LB_MODEL_FACES_MAX 2000000LL	    /* triangles of a model at most */
#define LB_MODEL_INFLATED_MAX (512LL << 20) /* bytes a 3MF's entries inflate to, together */
#define LB_MODEL_RATIO_MAX 1000		    /* inflated/compressed ratio of a 3MF entry */
#define LB_MODEL_RATIO_FROM (1LL << 20)	    /* ... looked at once the entry passed this */
#define LB_MODEL_ENTRIES_MAX 10000	    /* entries (files) of a 3MF archive at most */

/* What a model may be (a field <= 0 takes its default above). */
typedef struct lb_model_limits {
	long long max_faces;	/* triangles at most (default LB_MODEL_FACES_MAX) */
	long long max_inflated; /* 3MF: bytes its entries may inflate to, all together */
	int max_ratio;		/* 3MF: inflated/compressed ratio above which an entry is a bomb */
} lb_model_limits;

/* The default limits into *lim. Never fails. */
void lb_model_limits_default(lb_model_limits *lim);

/* The format's key in job params and meta ("stl", "stl-binary", "3mf", "obj"), and the file
 * extension the slicer needs ("stl", "3mf", "obj"); "" for MODEL_NONE. A zip is taken for a
 * 3MF. */
const char *lb_model_format_key(model_format f);
const char *lb_model_format_ext(model_format f);

/*
 * Whether a head that model_sniff did not recognise (len bytes, size the file's) is a binary STL
 * cut short (a count whose triangles do not fit, a first triangle that looks like one): 1 or 0.
 */
int lb_model_short_stl(const uint8_t *h, size_t len, long long size);
/*
 * Check the model file at path (its format from model_sniff over its head and size), reading it
 * in 64 KiB chunks, never whole in memory, and stopping as soon as a limit is passed (lim: NULL
 * for the defaults). Binary STL: its size must be 84 + 50 x its triangle count, its corners
 * numbers. ASCII STL, OBJ: well formed (model_count). 3MF: a readable zip, not encrypted, with at
 * least one 3D/...model part, every entry inflated (whatever its headers declare) within
 * max_inflated in all and max_ratio each; the triangles of its model parts counted. 0 with *meta
 * a new object {"model": {"format": "stl"|"stl-binary"|"3mf"|"obj", "ext": "stl"|"3mf"|"obj",
 * "faces": N, "vertices": N (-1 when the format does not say), "size": [x, y, z] (mm, the
 * vertices' bounding box; STL and OBJ only: a 3MF's items may be transformed)}}, or LB_EFAIL
 * with err: LB_ERR_INVALID_PARAMS
 * and a message a pupil understands, telling what to do ("not a 3D model" when it is none), or
 * LB_ERR_INTERNAL when the file cannot be read.
 */
int lb_model_check_file(const char *path, const lb_model_limits *lim, json_t **meta, lb_error *err);

#endif
