/* params.h - readers of request parameters and driver action arguments (invalid_params errors
 * that name the parameter). */
#ifndef LB_PARAMS_H
#define LB_PARAMS_H

#include <jansson.h>
#include <stdbool.h>

#include "../util/error.h"

/*
 * Parameter readers: each fills *out and returns 0, or returns negative with an invalid_params
 * error naming the parameter. A missing optional parameter leaves *out at its default.
 */
int lb_param_string(const json_t *params, const char *key, bool required, const char **out,
		    lb_error *err);
int lb_param_int(const json_t *params, const char *key, bool required, long long min, long long max,
		 long long *out, lb_error *err);
/* A finite number (an integer or a real) within [min, max]; the error names the range. */
int lb_param_number(const json_t *params, const char *key, bool required, double min, double max,
		    double *out, lb_error *err);
int lb_param_bool(const json_t *params, const char *key, bool *out, lb_error *err);

/* Reject any key of params not in the NULL-terminated list allowed; 0 or negative. */
int lb_param_only(const json_t *params, const char *const *allowed, lb_error *err);

#endif
