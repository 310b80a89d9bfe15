/* error.c - error filling and the stable names of wire error codes. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

int lb_error_set(lb_error *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->code = code;
		int n;
		va_start(ap, fmt);
		n = vsnprintf(err->message, sizeof err->message, fmt, ap);
		va_end(ap);
		if (n >= (int)sizeof err->message) {
			/* cut at a character boundary: messages are UTF-8 and end up in JSON */
			size_t len = sizeof err->message - 1;
			while (len > 0 && ((unsigned char)err->message[len] & 0xC0) == 0x80)
				len--;
			err->message[len] = '\0';
		}
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
