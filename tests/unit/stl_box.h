/* stl_box.h - test helper: an ASCII STL of an axis-aligned box, written for the slicer tests. */
#ifndef LB_TEST_STL_BOX_H
#define LB_TEST_STL_BOX_H

#include <stdio.h>

/* Write an ASCII STL of an x * y * z mm box, a corner at the origin, to path: 0, or -1 when the
 * file cannot be written. */
static inline int stl_write_box(const char *path, double x, double y, double z)
{
	static const int f[12][3] = {{0, 1, 3}, {0, 3, 2}, {4, 6, 7}, {4, 7, 5},
				     {0, 4, 5}, {0, 5, 1}, {2, 3, 7}, {2, 7, 6},
				     {0, 2, 6}, {0, 6, 4}, {1, 5, 7}, {1, 7, 3}};
	FILE *out = fopen(path, "w");

	if (!out)
		return -1;
	fprintf(out, "solid box\n");
	for (int i = 0; i < 12; i++) {
		fprintf(out, " facet normal 0 0 0\n  outer loop\n");
		for (int k = 0; k < 3; k++) {
			int v = f[i][k];
			fprintf(out, "   vertex %g %g %g\n", (v & 4) ? x : 0, (v & 2) ? y : 0,
				(v & 1) ? z : 0);
		}
		fprintf(out, "  endloop\n endfacet\n");
	}
	fprintf(out, "endsolid box\n");
	return fclose(out) == 0 ? 0 : -1;
}

#endif
