/* error.c - error filling and the stable names of wire error codes. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

int lb_error_set(lb_error *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof err->message, fmt, ap);
		va_end(ap);
	}
	return LB_EFAIL;
}

const char *lb_error_name(int code)
{
	switch (code) {
	case LB_ERR_PARSE: return "parse_error";
	case LB_ERR_INVALID_REQUEST: return "invalid_request";
	case LB_ERR_METHOD_NOT_FOUND: return "method_not_found";
	case LB_ERR_INVALID_PARAMS: return "invalid_params";
	case LB_ERR_INTERNAL: return "internal_error";
	case LB_ERR_UNKNOWN_DEVICE: return "unknown_device";
	case LB_ERR_FORBIDDEN: return "forbidden";
	case LB_ERR_LEASED: return "leased";
	case LB_ERR_DEVICE: return "device_error";
	case LB_ERR_NOT_SUPPORTED: return "not_supported";
	case LB_ERR_TIMEOUT: return "timeout";
	case LB_ERR_TOO_LARGE: return "too_large";
	default: return "error";
	}
}
