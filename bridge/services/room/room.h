/* room.h - what the room's services share: their events on the bridge/room/ topic. */
#ifndef LB_ROOM_H
#define LB_ROOM_H

#include <jansson.h>

#include "../../core/service.h"

#define ROOM_TOPIC "bridge/room/"

/* Publish data (taken: a json object with "event") on bridge/room/ with the topic's one sequence
 * counter. Only frees it before the room service has started. */
void room_publish_event(lb_server *s, json_t *data);

#endif
