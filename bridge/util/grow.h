/* grow.h - growable arrays: room for one more element, doubling the capacity. */
#ifndef LB_GROW_H
#define LB_GROW_H

#include <stdlib.h>

#include "error.h"

/*
 * Make room for element n of the array *pv (capacity *cap elements of elem bytes): returns 0,
 * or LB_ENOMEM leaving the array as it was. Use: lb_grow(&a->v, &a->cap, a->n, sizeof *a->v).
 */
static inline int lb_grow(void *pv, size_t *cap, size_t n, size_t elem)
{
	void **v = (void **)pv;
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	p = realloc(*v, ncap * elem);
	if (!p)
		return LB_ENOMEM;
	*v = p;
	*cap = ncap;
	return 0;
}

#endif
