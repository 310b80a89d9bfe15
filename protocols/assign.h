/* assign.h - device assignments to groups (room.assign): the table, its rule and its file (pure).
 */
#ifndef LB_ASSIGN_H
#define LB_ASSIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LB_ASSIGN_ID_MAX 63	  /* bytes of a device id */
#define LB_ASSIGN_GROUP_MAX 63	  /* bytes of a group name */
#define LB_ASSIGN_MAX 1024	  /* assignments kept */
#define LB_ASSIGN_FILE_MAX 262144 /* bytes of the file read back */

/* One device assigned to one group, since a real time (ns since 1970). */
typedef struct lb_assignment {
	char device[LB_ASSIGN_ID_MAX + 1];
	char group[LB_ASSIGN_GROUP_MAX + 1];
	int64_t since;
} lb_assignment;

/* The table, sorted by device id. */
typedef struct lb_assigns {
	lb_assignment *v;
	size_t n, cap;
} lb_assigns;

/* Whether group is a valid group name: 1..63 bytes of valid UTF-8 (no overlong form, no
 * surrogate) with no control character (C0, DEL, C1). */
bool lb_assign_group_ok(const char *group);

/* The assignment of device, or NULL. */
const lb_assignment *lb_assigns_find(const lb_assigns *t, const char *device);

/*
 * Assign device to group since since, or clear it (group NULL). 1 when the table changed, 0 when
 * it already said so, or negative: LB_ASSIGN_EBAD (an empty or too long id, a bad group name),
 * LB_ASSIGN_EFULL (LB_ASSIGN_MAX reached, or out of memory).
 */
enum { LB_ASSIGN_EBAD = -1, LB_ASSIGN_EFULL = -2 };
int lb_assigns_set(lb_assigns *t, const char *device, const char *group, int64_t since);

/*
 * Whether a student whose trusted group is group ("" for none) and identity is user may take
 * device's lease: true when the device is unassigned or assigned to that group or that user.
 * Teachers are not asked (the caller lets them through).
 */
bool lb_assigns_allow(const lb_assigns *t, const char *device, const char *group, const char *user);

/*
 * Read the table from a file's text: {"v": 1, "assignments": [{"device", "group", "since_ns"}]}.
 * 0 with *t filled (emptied first), or LB_ASSIGN_EBAD with why[cap] saying what is wrong (t is left
 * empty): every entry is checked, a bad one makes the whole file bad.
 */
int lb_assigns_parse(const char *text, size_t len, lb_assigns *t, char *why, size_t cap);

/* The file's text for the table (malloc'd, ends with a newline), or NULL on ENOMEM. */
char *lb_assigns_dump(const lb_assigns *t);

/* Free the table's memory (it stays usable, empty). */
void lb_assigns_clear(lb_assigns *t);

#endif
