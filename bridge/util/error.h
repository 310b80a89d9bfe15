/* error.h - the one error convention of labbridge: 0 on success, a negative LB_E* code on failure.
 */
#ifndef LB_ERROR_H
#define LB_ERROR_H

/* Wire error codes (stable, documented in PROTOCOL.md). */
enum lb_errcode {
	LB_ERR_PARSE = -32700,
	LB_ERR_INVALID_REQUEST = -32600,
	LB_ERR_METHOD_NOT_FOUND = -32601,
	LB_ERR_INVALID_PARAMS = -32602,
	LB_ERR_INTERNAL = -32603,
	LB_ERR_UNKNOWN_DEVICE = 1001,
	LB_ERR_FORBIDDEN = 1002,
	LB_ERR_LEASED = 1003,
	LB_ERR_DEVICE = 1004,
	LB_ERR_NOT_SUPPORTED = 1005,
	LB_ERR_TIMEOUT = 1006,
	LB_ERR_TOO_LARGE = 1008,
	LB_ERR_ROOM_STOPPED = 1009,
	LB_ERR_PROGRAM = 1010,	/* a program that does not compile, or failed on the robot */
	LB_ERR_FIRMWARE = 1011, /* the device's firmware is not what the driver speaks */
	LB_ERR_ASSIGNED = 1012, /* the device is assigned to another group (room.assign) */
};

/* Internal return codes: 0 or one of these (negative). */
enum {
	LB_OK = 0,
	LB_EFAIL = -1,	/* generic failure, see the lb_error filled in */
	LB_ENOMEM = -2, /* out of memory */
	LB_EGONE = -3,	/* the device disappeared (unplugged, I/O error) */
	LB_EINVAL = -4, /* invalid argument */
	LB_EAGAIN = -5, /* try again later */
};

/* An error with a wire code and a human message, filled in by whoever fails. */
typedef struct lb_error {
	int code;
	char message[256];
} lb_error;

/* Fill err (if not NULL) with code and a printf-style message; returns LB_EFAIL for convenience. */
int lb_error_set(lb_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The stable name of a wire error code ("unknown_device"), or "error" for an unknown code. */
const char *lb_error_name(int code);

#endif
