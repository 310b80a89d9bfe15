/* test_mcheck.c - the check of uploaded 3D models: each format, malformed files, too many faces,
 * 3MF zip bombs and lying headers, over files written in a temporary directory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <zip.h>

#include "../../bridge/services/print/mcheck.h"
#include "check.h"
#include "stl_box.h"

static char dir[] = "/tmp/test_mcheck.XXXXXX";
static char pathbuf[256];
static lb_error err;

/* The path of name in the test's directory (a static buffer). */
static const char *path(const char *name)
{
	snprintf(pathbuf, sizeof pathbuf, "%s/%s", dir, name);
	return pathbuf;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The peak resident memory of this process so far, in MiB. */
static double peak_mib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss / 1024.0;
}

/* Write len bytes to name in the directory. */
static void write_file(const char *name, const void *data, size_t len)
{
	FILE *f = fopen(path(name), "wb");
	CHECK(f != NULL);
	if (!f)
		return;
	CHECK_EQ_UINT(fwrite(data, 1, len, f), len);
	CHECK_EQ_INT(fclose(f), 0);
}

/* Check name with lim: its result; with *meta's faces and vertices on success (else -9). */
static int check(const char *name, const lb_model_limits *lim, long long *faces,
		 long long *vertices, const char **format)
{
	json_t *meta = (json_t *)1;
	int rc;

	memset(&err, 0, sizeof err);
	rc = lb_model_check_file(path(name), lim, &meta, &err);
	if (faces)
		*faces = -9;
	if (vertices)
		*vertices = -9;
	if (rc == 0) {
		static char fmt[16];
		json_t *model = json_object_get(meta, "model");
		CHECK(json_is_object(model));
		if (faces)
			*faces = json_integer_value(json_object_get(model, "faces"));
		if (vertices)
			*vertices = json_integer_value(json_object_get(model, "vertices"));
		snprintf(fmt, sizeof fmt, "%s/%s",
			 json_string_value(json_object_get(model, "format")),
			 json_string_value(json_object_get(model, "ext")));
		if (format)
			*format = fmt;
		json_decref(meta);
	} else {
		CHECK(meta == NULL);
		CHECK(err.message[0] != '\0');
	}
	return rc;
}

/* The size the check of name (with the default limits) measured into out: 0, or -1 when none. */
static int size_of(const char *name, double out[3])
{
	json_t *meta = NULL, *size;
	int rc = -1;

	if (lb_model_check_file(path(name), NULL, &meta, &err) < 0)
		return -1;
	size = json_object_get(json_object_get(meta, "model"), "size");
	if (json_array_size(size) == 3) {
		for (int i = 0; i < 3; i++)
			out[i] = json_number_value(json_array_get(size, (size_t)i));
		rc = 0;
	}
	json_decref(meta);
	return rc;
}

/* A binary STL of n triangles (a header naming no "solid"), with room for `room` of them. */
static void write_stl_binary(const char *name, uint32_t n, uint32_t room)
{
	size_t len = 84 + 50 * (size_t)room;
	uint8_t *b = calloc(1, len);
	static const float tri[12] = {0, 0, 1, 0, 0, 0, 10, 0, 0, 0, 10, 0}; /* normal, 3 corners */

	memcpy(b, "binary STL from a CAD tool", 26);
	b[80] = (uint8_t)n;
	b[81] = (uint8_t)(n >> 8);
	b[82] = (uint8_t)(n >> 16);
	b[83] = (uint8_t)(n >> 24);
	for (uint32_t i = 0; i < room; i++)
		memcpy(b + 84 + 50 * (size_t)i, tri, sizeof tri); /* little-endian host */
	write_file(name, b, len);
	free(b);
}

static void test_stl(void)
{
	long long faces, vertices;
	const char *format = "";

	CHECK_EQ_INT(stl_write_box(path("box.stl"), 20, 10, 5), 0);
	CHECK_EQ_INT(check("box.stl", NULL, &faces, &vertices, &format), 0);
	CHECK_EQ_INT(faces, 12);
	CHECK_EQ_INT(vertices, 36);
	CHECK_STR(format, "stl/stl");
	{
		double size[3] = {0};
		CHECK_EQ_INT(size_of("box.stl", size), 0);
		CHECK(size[0] == 20 && size[1] == 10 && size[2] == 5);
		write_stl_binary("bin.stl", 3, 3);
		CHECK_EQ_INT(size_of("bin.stl", size), 0);
		CHECK(size[0] == 10 && size[1] == 10 && size[2] == 0);
	}
	write_stl_binary("bin.stl", 1200, 1200);
	CHECK_EQ_INT(check("bin.stl", NULL, &faces, &vertices, &format), 0);
	CHECK_EQ_INT(faces, 1200);
	CHECK_EQ_INT(vertices, -1);
	CHECK_STR(format, "stl-binary/stl");
	/* a corner that is not a number (the normal may be: the slicer computes its own) */
	{
		FILE *f = fopen(path("bin.stl"), "r+b");
		static const uint8_t nan[4] = {0x00, 0x00, 0xc0, 0x7f};
		fseek(f, 84 + 50 * 700, SEEK_SET);
		fwrite(nan, 1, 4, f); /* the normal's x */
		CHECK_EQ_INT(fclose(f), 0);
		CHECK_EQ_INT(check("bin.stl", NULL, &faces, NULL, NULL), 0);
		f = fopen(path("bin.stl"), "r+b");
		fseek(f, 84 + 50 * 700 + 12 + 4 * 7, SEEK_SET);
		fwrite(nan, 1, 4, f); /* the third corner's y */
		CHECK_EQ_INT(fclose(f), 0);
		CHECK_EQ_INT(check("bin.stl", NULL, &faces, NULL, NULL), LB_EFAIL);
		CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
		CHECK_STR(err.message,
			  "the binary STL is malformed (triangle 701 has a corner that "
			  "is not a number): export it again from your design program");
	}
	/* cut short: 13 triangles missing */
	write_stl_binary("short.stl", 1200, 1187);
	CHECK_EQ_INT(check("short.stl", NULL, NULL, NULL, NULL), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK_CONTAINS(err.message, "the binary STL says 1200 triangles but holds bytes for 1187: "
				    "the file is cut short");
	/* a 4-vertex facet */
	{
		static const char four[] = "solid q\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\n"
					   "vertex 1 0 0\nvertex 1 1 0\nvertex 0 1 0\nendloop\n"
					   "endfacet\nendsolid q\n";
		write_file("four.stl", four, sizeof four - 1);
		CHECK_EQ_INT(check("four.stl", NULL, NULL, NULL, NULL), LB_EFAIL);
		CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
		CHECK_STR(err.message,
			  "the STL file is malformed (line 2: a facet with 4 vertices "
			  "(a triangle has 3)): export it again from your design program");
	}
}

static void test_obj(void)
{
	static const char cube[] = "o cube\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0 0 1\nv 1 0 1\n"
				   "v 1 1 1\nv 0 1 1\nf 1 2 3 4\nf 5 6 7 8\nf 1 2 6 5\n"
				   "f 2 3 7 6\nf 3 4 8 7\nf 4 1 5 8\n";
	long long faces, vertices;
	const char *format = "";
	char bad[sizeof cube + 16];

	write_file("cube.obj", cube, sizeof cube - 1);
	CHECK_EQ_INT(check("cube.obj", NULL, &faces, &vertices, &format), 0);
	CHECK_EQ_INT(faces, 12);
	CHECK_EQ_INT(vertices, 8);
	CHECK_STR(format, "obj/obj");
	{
		double size[3] = {0};
		CHECK_EQ_INT(size_of("cube.obj", size), 0);
		CHECK(size[0] == 1 && size[1] == 1 && size[2] == 1);
	}
	snprintf(bad, sizeof bad, "%sf 1 2 40\n", cube);
	write_file("bad.obj", bad, strlen(bad));
	CHECK_EQ_INT(check("bad.obj", NULL, NULL, NULL, NULL), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK_STR(err.message,
		  "the OBJ file is malformed (line 16: face refers to vertex 40 of 8): "
		  "export it again from your design program");
}

static void test_not_a_model(void)
{
	static const char fake[] = "PK\x03\x04 3D/3dmodel.model and nothing of a zip";

	write_file("notes.txt", "hello, teacher\n", 15);
	CHECK_EQ_INT(check("notes.txt", NULL, NULL, NULL, NULL), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK_STR(err.message, "not a 3D model");
	CHECK_EQ_INT(check("missing.stl", NULL, NULL, NULL, NULL), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INTERNAL);
	write_file("fake.3mf", fake, sizeof fake - 1);
	CHECK_EQ_INT(check("fake.3mf", NULL, NULL, NULL, NULL), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK_CONTAINS(err.message, "the 3MF file is not a valid zip archive: ");
}

/* ---- 3MF files written with libzip ---- */

/* A zip_source_function callback: `size` bytes of zeros, then (when text) the text. */
typedef struct zeros {
	zip_uint64_t size, pos;
	const char *text;
} zeros;

static zip_int64_t zeros_cb(void *ud, void *data, zip_uint64_t len, zip_source_cmd_t cmd)
{
	zeros *z = ud;
	zip_uint64_t total = z->size + (z->text ? strlen(z->text) : 0);

	switch (cmd) {
	case ZIP_SOURCE_OPEN: z->pos = 0; return 0;
	case ZIP_SOURCE_READ: {
		zip_uint64_t n = total - z->pos < len ? total - z->pos : len;
		zip_uint64_t zn = z->pos < z->size ? z->size - z->pos : 0;
		if (zn > n)
			zn = n;
		memset(data, 0, zn);
		memcpy((char *)data + zn, z->text + (z->pos + zn - z->size), n - zn);
		z->pos += n;
		return (zip_int64_t)n;
	}
	case ZIP_SOURCE_CLOSE: return 0;
	case ZIP_SOURCE_STAT: {
		zip_stat_t *st = data;
		zip_stat_init(st);
		st->size = total;
		st->valid |= ZIP_STAT_SIZE;
		return sizeof *st;
	}
	case ZIP_SOURCE_FREE: free(z); return 0;
	case ZIP_SOURCE_SUPPORTS: return ZIP_SOURCE_SUPPORTS_READABLE;
	default: return -1;
	}
}

static const char cube_xml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<model unit=\"millimeter\" xml:lang=\"en-US\" "
    "xmlns=\"http://schemas.microsoft.com/3dmanufacturing/core/2015/02\">\n"
    " <resources>\n  <object id=\"1\" type=\"model\">\n   <mesh>\n    <vertices>\n"
    "     <vertex x=\"0\" y=\"0\" z=\"0\"/>\n     <vertex x=\"10\" y=\"0\" z=\"0\"/>\n"
    "     <vertex x=\"10\" y=\"10\" z=\"0\"/>\n     <vertex x=\"0\" y=\"10\" z=\"0\"/>\n"
    "     <vertex x=\"0\" y=\"0\" z=\"10\"/>\n     <vertex x=\"10\" y=\"0\" z=\"10\"/>\n"
    "     <vertex x=\"10\" y=\"10\" z=\"10\"/>\n     <vertex x=\"0\" y=\"10\" z=\"10\"/>\n"
    "    </vertices>\n    <triangles>\n"
    "     <triangle v1=\"0\" v2=\"2\" v3=\"1\"/>\n     <triangle v1=\"0\" v2=\"3\" v3=\"2\"/>\n"
    "     <triangle v1=\"4\" v2=\"5\" v3=\"6\"/>\n     <triangle v1=\"4\" v2=\"6\" v3=\"7\"/>\n"
    "     <triangle v1=\"0\" v2=\"1\" v3=\"5\"/>\n     <triangle v1=\"0\" v2=\"5\" v3=\"4\"/>\n"
    "     <triangle v1=\"1\" v2=\"2\" v3=\"6\"/>\n     <triangle v1=\"1\" v2=\"6\" v3=\"5\"/>\n"
    "     <triangle v1=\"2\" v2=\"3\" v3=\"7\"/>\n     <triangle v1=\"2\" v2=\"7\" v3=\"6\"/>\n"
    "     <triangle v1=\"3\" v2=\"0\" v3=\"4\"/>\n     <triangle v1=\"3\" v2=\"4\" v3=\"7\"/>\n"
    "    </triangles>\n   </mesh>\n  </object>\n </resources>\n"
    " <build>\n  <item objectid=\"1\"/>\n </build>\n</model>\n";

/* An entry of a zip to write: text, or `zeros` bytes of zeros followed by text (when not NULL). */
typedef struct entry {
	const char *name;
	const char *text;
	zip_uint64_t zeros;
	int encrypt;
} entry;

/* Write a zip of n entries to name: 0, or -1 (with the reason printed). */
static int write_zip(const char *name, const entry *e, int n)
{
	int zerr = 0;
	zip_t *za = zip_open(path(name), ZIP_CREATE | ZIP_TRUNCATE, &zerr);

	if (!za)
		return -1;
	for (int i = 0; i < n; i++) {
		zeros *z = calloc(1, sizeof *z);
		zip_source_t *src;
		zip_int64_t idx;

		z->size = e[i].zeros;
		z->text = e[i].text;
		src = zip_source_function(za, zeros_cb, z);
		if (!src || (idx = zip_file_add(za, e[i].name, src, 0)) < 0) {
			fprintf(stderr, "zip_file_add: %s\n", zip_strerror(za));
			zip_source_free(src);
			zip_discard(za);
			return -1;
		}
		/* the fastest level: 600 MiB of zeros in about 1 s under ASan */
		zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_DEFLATE, 1);
		if (e[i].encrypt &&
		    zip_file_set_encryption(za, (zip_uint64_t)idx, ZIP_EM_AES_256, "secret") < 0) {
			fprintf(stderr, "zip_file_set_encryption: %s\n", zip_strerror(za));
			zip_discard(za);
			return -1;
		}
	}
	if (zip_close(za) < 0) {
		fprintf(stderr, "zip_close: %s\n", zip_strerror(za));
		zip_discard(za);
		return -1;
	}
	return 0;
}

static const entry content_types = {
    "[Content_Types].xml",
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Types xmlns=\"http://schemas.openxmlformats.org/"
    "package/2006/content-types\"><Default Extension=\"model\" "
    "ContentType=\"application/vnd.ms-package.3dmanufacturing-3dmodel+xml\"/></Types>\n",
    0, 0};

static void test_3mf(void)
{
	entry one[] = {content_types, {"3D/3dmodel.model", cube_xml, 0, 0}};
	entry two[] = {{"3D/3dmodel.model", cube_xml, 0, 0},
		       content_types,
		       {"3D/Objects/object_2.model", cube_xml, 0, 0},
		       {"Metadata/Slic3r_PE.config", "; layer_height = 0.2\n", 0, 0}};
	entry none[] = {content_types, {"Metadata/thumbnail.png", "not a png", 0, 0}};
	entry empty[] = {{"3D/3dmodel.model", "<model><build/></model>", 0, 0}};
	long long faces, vertices;
	const char *format = "";

	CHECK_EQ_INT(write_zip("cube.3mf", one, 2), 0);
	CHECK_EQ_INT(check("cube.3mf", NULL, &faces, &vertices, &format), 0);
	CHECK_EQ_INT(faces, 12);
	CHECK_EQ_INT(vertices, 8);
	CHECK_STR(format, "3mf/3mf");
	{
		double size[3];
		CHECK_EQ_INT(size_of("cube.3mf", size), -1); /* not measured: the slicer will */
	}
	CHECK_EQ_INT(write_zip("two.3mf", two, 4), 0);
	CHECK_EQ_INT(check("two.3mf", NULL, &faces, &vertices, &format), 0);
	CHECK_EQ_INT(faces, 24);
	CHECK_EQ_INT(vertices, 16);
	CHECK_EQ_INT(write_zip("none.3mf", none, 2), 0);
	CHECK_EQ_INT(check("none.3mf", NULL, NULL, NULL, NULL), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK_CONTAINS(err.message, "no 3D model (no 3D/....model part)");
	CHECK_EQ_INT(write_zip("empty.3mf", empty, 1), 0);
	CHECK_EQ_INT(check("empty.3mf", NULL, NULL, NULL, NULL), LB_EFAIL);
	CHECK_CONTAINS(err.message, "the 3MF file holds no triangle");
}

static void test_3mf_encrypted(void)
{
	entry enc[] = {content_types, {"3D/3dmodel.model", cube_xml, 0, 1}};

	if (write_zip("enc.3mf", enc, 2) < 0) {
		printf("     (this libzip cannot write AES: the encrypted 3MF is not tested)\n");
		return;
	}
	CHECK_EQ_INT(check("enc.3mf", NULL, NULL, NULL, NULL), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK_STR(err.message, "the 3MF file is encrypted (password-protected): export it again "
			       "without a password");
}

static int lie_about_size(const char *name, uint32_t size, int entries);

/* Check name with lim, printing the seconds the check took and the peak memory it added: the
 * result. */
static int check_bomb(const char *name, const lb_model_limits *lim)
{
	double t0 = now_s(), peak0 = peak_mib();
	int rc = check(name, lim, NULL, NULL, NULL);

	printf("     %s checked in %.2f s, peak memory +%.1f MiB: %s\n", name, now_s() - t0,
	       peak_mib() - peak0, rc ? err.message : "ok");
	CHECK_MSG(peak_mib() - peak0 < 64,
		  "the check holds a bounded window, not the inflated part");
	return rc;
}

/* Write a 3MF whose model part is n bytes of zeros then a cube: 0, or -1. */
static int write_bomb(const char *name, zip_uint64_t n)
{
	entry bomb[] = {content_types, {"3D/3dmodel.model", cube_xml, n, 0}};
	double t0 = now_s();
	int rc = write_zip(name, bomb, 2);

	printf("     %s: %llu MiB of zeros zipped in %.2f s\n", name, (unsigned long long)(n >> 20),
	       now_s() - t0);
	return rc;
}

static void test_3mf_bomb(void)
{
	lb_model_limits small = {0, 16 << 20, 0};
	lb_model_limits ratio = {0, 0, 100}, ratio_ok = {0, 0, 2000};
	entry meta[] = {content_types,
			{"3D/3dmodel.model", cube_xml, 0, 0},
			{"Metadata/Slic3r_PE_model.config", "", 64 << 20, 0}};
	static const char msg512[] = "the 3MF file inflates to more than 512 MiB (a zip bomb?): "
				     "export it again from your design program";

	/* over the default 512 MiB: 600 MiB of zeros, ~600 KB zipped; refused on its header */
	CHECK_EQ_INT(write_bomb("bomb.3mf", 600ULL << 20), 0);
	CHECK_EQ_INT(check_bomb("bomb.3mf", NULL), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK_STR(err.message, msg512);
	/* its headers say 1000 bytes: refused once 512 MiB are inflated */
	CHECK_EQ_INT(lie_about_size("bomb.3mf", 1000, 2), 0);
	CHECK_EQ_INT(check_bomb("bomb.3mf", NULL), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK_STR(err.message, msg512);
	unlink(path("bomb.3mf"));
	/* a lower limit */
	CHECK_EQ_INT(write_bomb("bomb16.3mf", 64 << 20), 0);
	CHECK_EQ_INT(check_bomb("bomb16.3mf", &small), LB_EFAIL);
	CHECK_CONTAINS(err.message, "the 3MF file inflates to more than 16 MiB (a zip bomb?)");
	/* within the total but past the ratio */
	CHECK_EQ_INT(write_bomb("ratio.3mf", 8 << 20), 0);
	CHECK_EQ_INT(check_bomb("ratio.3mf", &ratio), LB_EFAIL);
	CHECK_CONTAINS(err.message, "the 3MF part 3D/3dmodel.model inflates to more than 100 times "
				    "its compressed size (a zip bomb?)");
	/* the same file within the limits (zeros deflate about 1000 times: the default ratio):
	 * accepted, the cube after the zeros counted */
	CHECK_EQ_INT(check_bomb("ratio.3mf", &ratio_ok), 0);
	/* a bomb in an entry that is not a model part (the slicer reads its config too) */
	CHECK_EQ_INT(write_zip("meta.3mf", meta, 3), 0);
	CHECK_EQ_INT(check("meta.3mf", &small, NULL, NULL, NULL), LB_EFAIL);
	CHECK_CONTAINS(err.message, "inflates to more than 16 MiB (a zip bomb?)");
	CHECK_EQ_INT(lie_about_size("meta.3mf", 1000, 3), 0);
	CHECK_EQ_INT(check("meta.3mf", &small, NULL, NULL, NULL), LB_EFAIL);
	CHECK_CONTAINS(err.message, "inflates to more than 16 MiB (a zip bomb?)");
}

/* Overwrite the 4-byte little-endian field at off of the file name's bytes b (len). */
static void put32(uint8_t *b, size_t off, uint32_t v)
{
	b[off] = (uint8_t)v;
	b[off + 1] = (uint8_t)(v >> 8);
	b[off + 2] = (uint8_t)(v >> 16);
	b[off + 3] = (uint8_t)(v >> 24);
}

/* Rewrite the declared uncompressed size of the last of the `entries` entries of the zip name
 * (local and central headers): 0, or -1. */
static int lie_about_size(const char *name, uint32_t size, int entries)
{
	FILE *f = fopen(path(name), "r+b");
	uint8_t *b;
	long len, local = -1, central = -1;
	int nl = 0, nc = 0;

	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	b = malloc((size_t)len);
	rewind(f);
	if (fread(b, 1, (size_t)len, f) != (size_t)len)
		len = 0;
	/* the headers are found by their signatures: the entries hold zeros or XML */
	for (long i = 0; i + 46 <= len; i++) {
		if (memcmp(b + i, "PK\x03\x04", 4) == 0 && ++nl == entries)
			local = i;
		if (memcmp(b + i, "PK\x01\x02", 4) == 0 && ++nc == entries)
			central = i;
	}
	if (local >= 0 && central >= 0 && nl == entries && nc == entries) {
		put32(b, (size_t)local + 22, size);
		put32(b, (size_t)central + 24, size);
	} else {
		len = -1;
	}
	rewind(f);
	if (len > 0)
		fwrite(b, 1, (size_t)len, f);
	fclose(f);
	free(b);
	return len > 0 ? 0 : -1;
}

static void test_3mf_lying_header(void)
{
	lb_model_limits small = {0, 8 << 20, 0};
	entry bomb[] = {{"3D/3dmodel.model", cube_xml, 32 << 20, 0}};
	entry cube[] = {{"3D/3dmodel.model", cube_xml, 0, 0}};
	long long faces;

	/* declares 1000 bytes, inflates to 32 MiB: refused at the limit, whatever it says */
	CHECK_EQ_INT(write_zip("liar.3mf", bomb, 1), 0);
	CHECK_EQ_INT(lie_about_size("liar.3mf", 1000, 1), 0);
	CHECK_EQ_INT(check("liar.3mf", &small, NULL, NULL, NULL), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	printf("     declared 1000 bytes, inflates to 32 MiB: %s\n", err.message);
	CHECK(strstr(err.message, "(a zip bomb?)") || strstr(err.message, "is damaged"));
	/* and within the limits, refused too: the sizes do not match */
	CHECK_EQ_INT(check("liar.3mf", &(lb_model_limits){0, 0, 1 << 20}, NULL, NULL, NULL),
		     LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK_STR(err.message,
		  "the 3MF file is damaged (3D/3dmodel.model says 1000 bytes but holds "
		  "33555518): export it again from your design program");
	/* declares 2 GiB for a small part: inflated within the limits, but not what it says */
	CHECK_EQ_INT(write_zip("boast.3mf", cube, 1), 0);
	CHECK_EQ_INT(lie_about_size("boast.3mf", 0x7fffffffu, 1), 0);
	CHECK_EQ_INT(check("boast.3mf", NULL, &faces, NULL, NULL), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK_STR(err.message,
		  "the 3MF file inflates to more than 512 MiB (a zip bomb?): export it "
		  "again from your design program");
	CHECK_EQ_INT(check("boast.3mf", &(lb_model_limits){0, 4LL << 30, 0}, &faces, NULL, NULL),
		     LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK_STR(err.message,
		  "the 3MF file is damaged (3D/3dmodel.model says 2147483647 bytes but "
		  "holds 1086): export it again from your design program");
	/* 0xffffffff: a zip64 size, with no zip64 record */
	CHECK_EQ_INT(lie_about_size("boast.3mf", 0xffffffffu, 1), 0);
	CHECK_EQ_INT(check("boast.3mf", NULL, &faces, NULL, NULL), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK_STR(err.message, "the 3MF file is not a valid zip archive: Zip archive inconsistent");
}

static void test_too_many_faces(void)
{
	lb_model_limits lim = {1000, 0, 0};
	static const char limit_msg[] =
	    "the model has more than 1000 triangles (limit of this bridge): simplify it "
	    "(Tinkercad: "
	    "export at a lower resolution; Meshmixer/Blender: reduce) before printing";
	FILE *f;
	long long faces;
	char *xml;
	size_t n;

	/* ASCII STL: 1000 facets pass, 1001 do not */
	for (int k = 1000; k <= 1001; k++) {
		f = fopen(path("many.stl"), "w");
		fprintf(f, "solid many\n");
		for (int i = 0; i < k; i++)
			fprintf(f,
				"facet normal 0 0 1\nouter loop\nvertex %d 0 0\nvertex %d 1 0\n"
				"vertex %d 0 1\nendloop\nendfacet\n",
				i, i, i);
		fprintf(f, "endsolid many\n");
		fclose(f);
		CHECK_EQ_INT(check("many.stl", &lim, &faces, NULL, NULL), k == 1000 ? 0 : LB_EFAIL);
	}
	CHECK_STR(err.message, limit_msg);
	/* OBJ: 1001 triangles as quads and one triangle */
	f = fopen(path("many.obj"), "w");
	fprintf(f, "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\n");
	for (int i = 0; i < 500; i++)
		fprintf(f, "f 1 2 3 4\n");
	fprintf(f, "f 1 2 3\n");
	fclose(f);
	CHECK_EQ_INT(check("many.obj", &lim, NULL, NULL, NULL), LB_EFAIL);
	CHECK_STR(err.message, limit_msg);
	/* binary STL: refused on its count, before its size is looked at */
	write_stl_binary("many-bin.stl", 1001, 1001);
	CHECK_EQ_INT(check("many-bin.stl", &lim, NULL, NULL, NULL), LB_EFAIL);
	CHECK_STR(err.message, limit_msg);
	write_stl_binary("huge-bin.stl", 4000000000u, 1);
	CHECK_EQ_INT(check("huge-bin.stl", NULL, NULL, NULL, NULL), LB_EFAIL);
	CHECK_CONTAINS(err.message, "the model has more than 2000000 triangles");
	/* 3MF: 1001 triangles in a part */
	xml = malloc(64 * 1024);
	n = (size_t)sprintf(xml, "<model><resources><object id=\"1\"><mesh><triangles>");
	for (int i = 0; i < 1001; i++)
		n += (size_t)sprintf(xml + n, "<triangle v1=\"0\" v2=\"1\" v3=\"2\"/>");
	sprintf(xml + n, "</triangles></mesh></object></resources></model>");
	{
		entry many[] = {{"3D/3dmodel.model", xml, 0, 0}};
		CHECK_EQ_INT(write_zip("many.3mf", many, 1), 0);
	}
	CHECK_EQ_INT(check("many.3mf", &lim, NULL, NULL, NULL), LB_EFAIL);
	CHECK_STR(err.message, limit_msg);
	/* two parts of 667 triangles: the limit is over the whole model */
	n = (size_t)sprintf(xml, "<model><resources><object id=\"1\"><mesh><triangles>");
	for (int i = 0; i < 667; i++)
		n += (size_t)sprintf(xml + n, "<triangle v1=\"0\" v2=\"1\" v3=\"2\"/>");
	sprintf(xml + n, "</triangles></mesh></object></resources></model>");
	{
		entry two[] = {{"3D/3dmodel.model", xml, 0, 0}, {"3D/Objects/o2.model", xml, 0, 0}};
		CHECK_EQ_INT(write_zip("many2.3mf", two, 2), 0);
	}
	CHECK_EQ_INT(check("many2.3mf", &lim, NULL, NULL, NULL), LB_EFAIL);
	CHECK_STR(err.message, limit_msg);
	CHECK_EQ_INT(check("many2.3mf", &(lb_model_limits){1334, 0, 0}, &faces, NULL, NULL), 0);
	CHECK_EQ_INT(faces, 1334);
	free(xml);
}

/* Write an OBJ of 3 vertices and n faces "f 1 2 3", streamed (never whole in memory). */
static void write_big_obj(const char *name, long long n)
{
	static char block[8 * 8192];
	FILE *f = fopen(path(name), "w");

	for (size_t i = 0; i < sizeof block; i += 8)
		memcpy(block + i, "f 1 2 3\n", 8);
	fprintf(f, "v 0 0 0\nv 1 0 0\nv 0 1 0\n");
	for (long long left = n; left > 0; left -= 8192)
		fwrite(block, 8, left < 8192 ? (size_t)left : 8192, f);
	fclose(f);
}

static void test_ten_million_faces(void)
{
	lb_model_limits big = {20000000, 0, 0};
	long long faces = 0;
	double t0 = now_s(), peak0;

	write_big_obj("big.obj", 10000000);
	printf("     10 million faces OBJ (80 MB) written in %.2f s\n", now_s() - t0);
	peak0 = peak_mib();
	t0 = now_s();
	CHECK_EQ_INT(check("big.obj", NULL, NULL, NULL, NULL), LB_EFAIL);
	CHECK_CONTAINS(err.message, "the model has more than 2000000 triangles");
	printf("     refused (default limit) in %.2f s\n", now_s() - t0);
	t0 = now_s();
	CHECK_EQ_INT(check("big.obj", &big, &faces, NULL, NULL), 0);
	CHECK_EQ_INT(faces, 10000000);
	printf("     counted whole (limit 20 M) in %.2f s, peak memory +%.1f MiB\n", now_s() - t0,
	       peak_mib() - peak0);
	CHECK_MSG(peak_mib() - peak0 < 32, "the check streams the file");
	unlink(path("big.obj"));
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_stl);
	RUN(test_obj);
	RUN(test_not_a_model);
	RUN(test_3mf);
	RUN(test_3mf_encrypted);
	RUN(test_3mf_bomb);
	RUN(test_3mf_lying_header);
	RUN(test_too_many_faces);
	RUN(test_ten_million_faces);
	{
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return check_summary();
}
