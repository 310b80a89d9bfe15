/* ply.c - binary little-endian PLY writer for scanned points, streaming, count patched at the end.
 */
#include "ply.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../bridge/util/error.h"

struct ciclop_ply {
	FILE *f;
	long count_at; /* file offset of the vertex count's digits */
	unsigned long count;
	int failed;
};

#define COUNT_WIDTH 10 /* digits reserved for the vertex count */

ciclop_ply *ciclop_ply_new(FILE *f)
{
	ciclop_ply *ply = calloc(1, sizeof *ply);

	if (!ply || !f)
		goto fail;
	ply->f = f;
	if (fputs("ply\nformat binary_little_endian 1.0\ncomment labbridge ciclop scan\nelement "
		  "vertex ",
		  f) < 0)
		goto fail;
	ply->count_at = ftell(f);
	if (ply->count_at < 0 || fprintf(f, "%0*d\n", COUNT_WIDTH, 0) < 0 ||
	    fputs("property float x\nproperty float y\nproperty float z\nproperty uchar red\n"
		  "property uchar green\nproperty uchar blue\nend_header\n",
		  f) < 0)
		goto fail;
	return ply;
fail:
	free(ply);
	return NULL;
}

/* Store a float as 4 little-endian bytes. */
static void put_f32(uint8_t *b, float v)
{
	uint32_t u;
	memcpy(&u, &v, 4);
	b[0] = (uint8_t)u, b[1] = (uint8_t)(u >> 8), b[2] = (uint8_t)(u >> 16),
	b[3] = (uint8_t)(u >> 24);
}

int ciclop_ply_add(ciclop_ply *ply, const ciclop_point *p)
{
	uint8_t b[15];

	if (ply->count >= CICLOP_PLY_MAX)
		return LB_EINVAL;
	put_f32(b, p->x), put_f32(b + 4, p->y), put_f32(b + 8, p->z);
	b[12] = p->r, b[13] = p->g, b[14] = p->b;
	if (fwrite(b, 1, sizeof b, ply->f) != sizeof b) {
		ply->failed = 1;
		return LB_EFAIL;
	}
	ply->count++;
	return 0;
}

int ciclop_ply_finish(ciclop_ply *ply)
{
	long end = ftell(ply->f);

	if (ply->failed || end < 0 || fseek(ply->f, ply->count_at, SEEK_SET) != 0 ||
	    fprintf(ply->f, "%0*lu", COUNT_WIDTH, ply->count) != COUNT_WIDTH ||
	    fseek(ply->f, end, SEEK_SET) != 0 || fflush(ply->f) != 0)
		return LB_EFAIL;
	return 0;
}

unsigned long ciclop_ply_count(const ciclop_ply *ply)
{
	return ply->count;
}

void ciclop_ply_destroy(ciclop_ply **ply)
{
	if (!ply || !*ply)
		return;
	free(*ply);
	*ply = NULL;
}
