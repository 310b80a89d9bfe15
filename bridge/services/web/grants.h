/* grants.h - the restricted topics granted to the web's SSE streams by ownership, taken back when
 * ownership ends (bridge/HTTP.md): shared by the main loop and the HTTP threads. */
#ifndef LB_GRANTS_H
#define LB_GRANTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../core/access.h"

#define LB_GRANTS_MAX 4096 /* granted prefixes that depend on ownership, every stream together */

typedef struct lb_grants lb_grants;

/* A new empty table, or NULL on ENOMEM. */
lb_grants *lb_grants_new(void);

/* Free the table; accepts NULL and nulls *g. */
void lb_grants_destroy(lb_grants **g);

/*
 * (Main loop.) Stream stream was granted prefix (at most 255 bytes) because who owns a device
 * (holds its lease, or owns its job): remember it. 0, or LB_EFAIL when the table is full.
 */
int lb_grants_add(lb_grants *g, uint64_t stream, const lb_client *who, const char *prefix);

/* Whether who still receives prefix: 1, or 0 with why[cap] set (the reason the tablet sees). */
typedef int lb_grants_still_fn(void *arg, const lb_client *who, const char *prefix, char *why,
			       size_t cap);

/*
 * (Main loop, when ownership may have changed.) Ask still about every live grant; those no longer
 * granted are revoked from now on (lb_grants_blocked). How many were revoked.
 */
size_t lb_grants_recheck(lb_grants *g, lb_grants_still_fn *still, void *arg);

/* (HTTP thread.) Whether a revoked grant of stream covers topic (len bytes): drop it. */
bool lb_grants_blocked(lb_grants *g, uint64_t stream, const char *topic, size_t len);

/*
 * (HTTP thread.) One revoked grant of stream not announced yet: 1 with its prefix and reason
 * copied (NUL-terminated, truncated to the caps), now marked announced; 0 when there is none.
 */
int lb_grants_next_revoked(lb_grants *g, uint64_t stream, char *prefix, size_t pcap, char *reason,
			   size_t rcap);

/* (HTTP thread.) Stream stream ended: forget its grants. */
void lb_grants_drop(lb_grants *g, uint64_t stream);

/* How many grants are remembered (tests, bridge.info). */
size_t lb_grants_count(lb_grants *g);

#endif
