/* params.c - readers of request parameters and action arguments, with invalid_params errors. */
#include "params.h"

#include <math.h>
#include <string.h>

int lb_param_string(const json_t *params, const char *key, bool required, const char **out,
		    lb_error *err)
{
	json_t *v = json_object_get(params, key);

	if (!v || json_is_null(v)) {
		if (required)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "missing parameter '%s' (a string)", key);
		return 0;
	}
	if (!json_is_string(v))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "parameter '%s' must be a string",
				    key);
	*out = json_string_value(v);
	return 0;
}

int lb_param_int(const json_t *params, const char *key, bool required, long long min, long long max,
		 long long *out, lb_error *err)
{
	json_t *v = json_object_get(params, key);
	long long x;

	if (!v || json_is_null(v)) {
		if (required)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "missing parameter '%s' (an integer)", key);
		return 0;
	}
	if (!json_is_integer(v))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "parameter '%s' must be an integer",
				    key);
	x = json_integer_value(v);
	if (x < min || x > max)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "parameter '%s' = %lld is out of range [%lld, %lld]", key, x,
				    min, max);
	*out = x;
	return 0;
}

int lb_param_number(const json_t *params, const char *key, bool required, double min, double max,
		    double *out, lb_error *err)
{
	json_t *v = json_object_get(params, key);
	double x;

	if (!v || json_is_null(v)) {
		if (required)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "missing parameter '%s' (a number)", key);
		return 0;
	}
	if (!json_is_number(v))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "parameter '%s' must be a number (not %s)", key,
				    json_is_string(v) ? "a string" : "this");
	x = json_number_value(v);
	if (!isfinite(x) || x < min || x > max)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "parameter '%s' = %g is out of range [%g, %g]", key, x, min,
				    max);
	*out = x;
	return 0;
}

int lb_param_bool(const json_t *params, const char *key, bool *out, lb_error *err)
{
	json_t *v = json_object_get(params, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "parameter '%s' must be true or false", key);
	*out = json_is_true(v);
	return 0;
}

int lb_param_only(const json_t *params, const char *const *allowed, lb_error *err)
{
	const char *key;
	json_t *value;

	json_object_foreach((json_t *)params, key, value)
	{
		const char *const *a;
		(void)value;
		for (a = allowed; *a; a++)
			if (strcmp(*a, key) == 0)
				break;
		if (!*a)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS, "unknown parameter '%s'",
					    key);
	}
	return 0;
}
