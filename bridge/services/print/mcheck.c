/* mcheck.c - the check of an uploaded 3D model (interim: its format only). */
#include "mcheck.h"

#include "printq.h"

void lb_model_limits_default(lb_model_limits *lim)
{
	lim->max_faces = LB_MODEL_FACES_MAX;
	lim->max_inflated = LB_MODEL_INFLATED_MAX;
	lim->max_ratio = LB_MODEL_RATIO_MAX;
}

const char *lb_model_format_key(model_format f)
{
	switch (f) {
	case MODEL_STL_ASCII:
		return "stl";
	case MODEL_STL_BINARY:
		return "stl-binary";
	case MODEL_3MF:
	case MODEL_ZIP:
		return "3mf";
	case MODEL_OBJ:
		return "obj";
	default:
		return "";
	}
}

const char *lb_model_format_ext(model_format f)
{
	return f == MODEL_STL_BINARY ? "stl" : lb_model_format_key(f);
}

int lb_model_check_file(const char *path, const lb_model_limits *lim, json_t **meta,
			lb_error *err)
{
	model_format f = lb_printq_sniff(path);

	(void)lim;
	if (f == MODEL_NONE)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "not a 3D model");
	*meta = json_pack("{s:{s:s,s:s}}", "model", "format", lb_model_format_key(f), "ext",
			  lb_model_format_ext(f));
	return 0;
}
