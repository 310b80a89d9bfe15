/* mcheck.h - the check of an uploaded 3D model (STL, 3MF, OBJ) before it is sliced. */
#ifndef LB_MCHECK_H
#define LB_MCHECK_H

#include <jansson.h>

#include "../../../protocols/model.h"
#include "../../util/error.h"

#define LB_MODEL_FACES_MAX 2000000LL		/* triangles at most */
#define LB_MODEL_INFLATED_MAX (512LL << 20) /* bytes a 3MF's model parts may inflate to */
#define LB_MODEL_RATIO_MAX 1000		/* inflated/compressed ratio of a 3MF part */

typedef struct lb_model_limits {
	long long max_faces;
	long long max_inflated;
	int max_ratio;
} lb_model_limits;

/* The default limits into *lim. */
void lb_model_limits_default(lb_model_limits *lim);
/* The format's key in job params and meta ("stl", "stl-binary", "3mf", "obj"), and the file
 * extension the slicer needs ("stl", "3mf", "obj"); "" for MODEL_NONE. */
const char *lb_model_format_key(model_format f);
const char *lb_model_format_ext(model_format f);
/* Check the model file at path: 0 with *meta a new object {"model": {"format", "ext", "faces",
 * "vertices"}}, or LB_EFAIL with err set. */
int lb_model_check_file(const char *path, const lb_model_limits *lim, json_t **meta,
			lb_error *err);

#endif
