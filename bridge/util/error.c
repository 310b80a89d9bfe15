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
			/* Cut at a character boundary: messages are UTF-8 and end up in JSON.
			 * message[255] is already the NUL: look at the last sequence kept. */
			size_t end = sizeof err->message - 1, i = end;
			while (i > 0 && ((unsigned char)err->message[i - 1] & 0xC0) == 0x80)
				i--;
			if (i > 0 && (unsigned char)err->message[i - 1] >= 0xC0) {
				unsigned char c = (unsigned char)err->message[i - 1];
				size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
				if (end - (i - 1) < need)
					err->message[i - 1] = '\0';
			}
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
	case LB_ERR_ROOM_STOPPED: return "room_stopped";
	case LB_ERR_PROGRAM: return "program_error";
	case LB_ERR_FIRMWARE: return "wrong_firmware";
	case LB_ERR_ASSIGNED: return "assigned";
	default: return "error";
	}
}
