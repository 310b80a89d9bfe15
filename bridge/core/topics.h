/* topics.h - who may receive which stream topics: public families, and those of a device's owner
 * (pure logic). */
#ifndef LB_TOPICS_H
#define LB_TOPICS_H

#include <stdbool.h>
#include <stddef.h>

#include "access.h"

/*
 * Topics are <kind>/<device>/<stream>/... (PROTOCOL.md). A few streams carry what one group does
 * with its device, and only that device's owner (the holder of its lease, or the owner of the job
 * it runs) and teachers receive them:
 *   robot/<id>/console/, robot/<id>/event/   a program's output and its user events
 *   printer/<id>/console/                    the G-code exchanged with a printer
 *   scanner/<id>/image/                      a scan's image bands
 *   scanner3d/<id>/points/                   a 3D scan's point batches
 * Everything else (sensors, robot sensors and state, printer status and temperatures, scan
 * progress, the bridge/ topics: heartbeat, devices, queue, scans, room) is public to every role.
 * Teachers receive everything; students the public topics and the restricted ones of the devices
 * they own; observers the public topics only.
 */

/* What the policy decided about one subscription prefix. */
typedef enum lb_topic_verdict {
	LB_TOPIC_ALLOW = 0, /* applied as it is */
	LB_TOPIC_NARROW,    /* covers restricted topics the subscriber may not see: replaced by the
			     * prefixes lb_topic_check emitted (possibly none) */
	LB_TOPIC_REFUSE,    /* only restricted topics of a device the subscriber does not own */
} lb_topic_verdict;

/*
 * What the bridge knows of its devices, read through callbacks (no globals): the devices of the
 * kinds with restricted topics, and who owns each.
 */
typedef struct lb_topic_view {
	/* How many devices. */
	size_t (*count)(void *arg);
	/* Device i (< count): its kind and id; its stream names through stream(j) until NULL. */
	void (*device)(void *arg, size_t i, const char **kind, const char **id);
	const char *(*stream)(void *arg, size_t i, size_t j);
	/* Whether user owns device i (holds its lease, or owns the job it runs). */
	bool (*owns)(void *arg, size_t i, const char *user);
	void *arg;
} lb_topic_view;

/* Called for each prefix a narrowed subscription becomes (len bytes, not NUL-terminated). */
typedef void lb_topic_emit(void *arg, const char *prefix, size_t len);

/*
 * Decide what subscriber (role, user: the identity the client cannot choose) receives of prefix
 * (len bytes). LB_TOPIC_NARROW calls emit once per replacement prefix (never a duplicate; each
 * at most LB_TOPIC_MAX bytes; emit may be NULL); *owned (if not NULL) is set when the answer
 * depends on what the subscriber owns or on the devices present, so that a change of either may
 * change it. why (if not NULL, cap bytes) says why a refusal or narrowing happened. Never fails.
 */
lb_topic_verdict lb_topic_check(lb_role role, const char *user, const char *prefix, size_t len,
				const lb_topic_view *view, lb_topic_emit *emit, void *arg,
				bool *owned, char *why, size_t cap);

/* Whether topic (len bytes) is restricted (one of the streams above). */
bool lb_topic_restricted(const char *topic, size_t len);

#define LB_TOPIC_MAX 255 /* longest prefix emitted */

#endif
