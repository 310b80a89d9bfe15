/* bench_mcheck.c - the model check's speed: MB/s over a 100 MB OBJ and ASCII STL, vs `wc -l`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../bridge/services/print/mcheck.c"
#include "../../bridge/util/error.c"
#include "../../protocols/model.c"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Write a model of about mb MB to path, as exporters write it: an OBJ (a grid of vertices, then
 * faces v/vt/vn of three neighbours) or an ASCII STL (indented facets, %e numbers). The faces. */
static long long write_model(const char *path, int obj, double mb)
{
	FILE *f = fopen(path, "w");
	long long faces = 0, nv = 0, target = (long long)(mb * 1e6);

	if (!f)
		return -1;
	if (obj) {
		fprintf(f, "# Blender v2.93 OBJ File\nmtllib part.mtl\no Part\n");
		for (; nv < target / 90; nv++)
			fprintf(f, "v %.6f %.6f %.6f\n", (double)(nv % 1000) * 0.1,
				(double)(nv / 1000) * 0.1, 0.5 + (double)(nv % 7) * 0.01);
		fprintf(f,
			"vt 0.0 0.0\nvt 1.0 0.0\nvt 0.0 1.0\nvn 0.0 0.0 1.0\nusemtl none\ns off\n");
		while (ftell(f) < target) {
			long long a = 1 + faces % (nv - 1001);
			fprintf(f, "f %lld/1/1 %lld/2/1 %lld/3/1\n", a, a + 1, a + 1000);
			faces++;
		}
	} else {
		fprintf(f, "solid part\n");
		while (ftell(f) < target) {
			double x = (double)(faces % 1000) * 0.1, y = (double)(faces / 1000) * 0.1;
			fprintf(f,
				"  facet normal %e %e %e\n    outer loop\n      vertex %e %e %e\n"
				"      vertex %e %e %e\n      vertex %e %e %e\n    endloop\n"
				"  endfacet\n",
				0.0, 0.0, 1.0, x, y, 1.0, x + 0.1, y, 1.0, x, y + 0.1, 1.0);
			faces++;
		}
		fprintf(f, "endsolid part\n");
	}
	fclose(f);
	return faces;
}

int main(int argc, char **argv)
{
	double mb = argc > 1 ? atof(argv[1]) : 100;
	char dir[] = "/tmp/bench_mcheck.XXXXXX", path[64], cmd[128];
	lb_model_limits lim = {1LL << 40, 0, 0};
	int failed = 0;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	for (int obj = 1; obj >= 0; obj--) {
		long long faces, bytes;
		double t0, t_check, t_wc;
		json_t *meta = NULL;
		lb_error err = {0, ""};
		FILE *f;

		snprintf(path, sizeof path, "%s/part.%s", dir, obj ? "obj" : "stl");
		faces = write_model(path, obj, mb);
		f = fopen(path, "r");
		fseek(f, 0, SEEK_END);
		bytes = ftell(f);
		fclose(f);
		/* both read the file once from the page cache: a first pass warms it */
		snprintf(cmd, sizeof cmd, "wc -l %s > /dev/null", path);
		if (system(cmd) != 0)
			failed = 1;
		t0 = now_s();
		if (system(cmd) != 0)
			failed = 1;
		t_wc = now_s() - t0;
		t0 = now_s();
		if (lb_model_check_file(path, &lim, &meta, &err) < 0) {
			fprintf(stderr, "%s: %s\n", path, err.message);
			failed = 1;
		}
		t_check = now_s() - t0;
		if (meta && json_integer_value(
				json_object_get(json_object_get(meta, "model"), "faces")) != faces)
			failed = 1;
		printf("{\"bench\":\"mcheck_%s\",\"bytes\":%lld,\"faces\":%lld,\"check_mb_per_s\":%"
		       ".0f,"
		       "\"wc_l_mb_per_s\":%.0f,\"check_s\":%.3f,\"wc_l_s\":%.3f}\n",
		       obj ? "obj" : "stl", bytes, faces, bytes / 1e6 / t_check, bytes / 1e6 / t_wc,
		       t_check, t_wc);
		json_decref(meta);
		unlink(path);
	}
	rmdir(dir);
	return failed;
}
