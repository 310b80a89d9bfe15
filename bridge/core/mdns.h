/* mdns.h - the bridge announces itself on the LAN with DNS-SD (_labbridge._tcp) through Avahi. */
#ifndef LB_MDNS_H
#define LB_MDNS_H

#include <stdint.h>

#include "server.h"

#define LB_MDNS_TYPE "_labbridge._tcp"
#define LB_MDNS_TXT_MAX 8 /* TXT records at most */

typedef struct lb_mdns lb_mdns;

/*
 * Register service name (1..63 bytes of UTF-8) of type LB_MDNS_TYPE on port with the TXT records
 * txt[0..ntxt) ("key=value", each at most 255 bytes), from a thread of Avahi's own
 * (AvahiThreadedPoll). No avahi-daemon (or no D-Bus): a warning once, the announcement is made
 * when the daemon comes (again, after a restart; D-Bus is tried again every 5 s); a name taken on
 * the LAN: Avahi's alternative name. NULL (logged) when out of memory, the arguments are invalid
 * or the thread cannot start.
 */
lb_mdns *lb_mdns_new(const char *name, uint16_t port, const char *const *txt, int ntxt);

/* Withdraw the announcement and stop the thread. Accepts NULL; nulls the pointer. */
void lb_mdns_destroy(lb_mdns **pm);

/*
 * The bridge's announcement as [bridge] announce asks (yes, no; default: yes when the network
 * endpoints net_rpc or the web page listen beyond loopback): on net_rpc's port, else the web
 * page's, with TXT v=1, rpc=, pub=, http=, key= (the server key's fingerprint), name=. *out
 * receives it, or NULL when nothing is announced (Avahi missing is not a failure). 0, or LB_EFAIL
 * (logged: a bad announce or name option: the bridge does not start).
 */
int srv_mdns_start(lb_server *s, lb_mdns **out);

#endif
