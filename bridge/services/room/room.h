/* room.h - the room-wide stop (room.c): every device that can be halted, latched until a teacher
 * releases it. */
#ifndef LB_ROOM_H
#define LB_ROOM_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../util/error.h"

struct lb_server;
struct lb_device;
struct call;

/* The latch, kept in the server (zeroed: not loaded yet) and in the data directory
 * (room-stopped.json), so that a restart or a crash does not release it. */
typedef struct lb_room {
	bool loaded; /* the data directory was read */
	bool stopped;
	char by[128];	/* who stopped the room: the identity ("unix:NAME") */
	char name[64];	/* and the label they gave with session.hello */
	int64_t since;	/* real time (ns since 1970) of the stop */
	uint64_t seq;	/* the bridge/room/ topic's last seq */
	unsigned stops; /* room.stop calls since the bridge started */
} lb_room;

/* room.stop (students and teachers): halt every device that can be halted, and latch. */
int m_room_stop(struct lb_server *s, struct call *c, json_t **result, lb_error *err);
/* room.release (teachers): unlatch; printers take jobs again. */
int m_room_release(struct lb_server *s, struct call *c, json_t **result, lb_error *err);
/* room.state (everyone): the latch and the devices it halts. */
int m_room_state(struct lb_server *s, struct call *c, json_t **result, lb_error *err);

/* Whether the room is stopped (latched). */
bool srv_room_stopped(struct lb_server *s);

/*
 * May a client's command cmd (start, call with params.action...) go to device d now? While the
 * room is stopped, starting a device that can be halted and a driver action that sets something
 * moving (LB_ACTION_MOTION) are refused. 0, or LB_EFAIL with err set (LB_ERR_ROOM_STOPPED).
 */
int srv_room_check(struct lb_server *s, struct lb_device *d, const char *cmd, const json_t *params,
		   lb_error *err);

/*
 * Halt one device out of band on behalf of who (logged): lb_device_halt, the driver's hook at
 * once then its thread's finish. 0, or what lb_device_halt returns (LB_EINVAL: it cannot be
 * halted).
 */
int srv_halt_device(struct lb_server *s, struct lb_device *d, const char *who);

#endif
