/* test_model_count.c - the model face counter: STL, OBJ and 3MF XML, whole and split anywhere. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../protocols/model.h"
#include "check.h"

static model_count mc; /* 4 KiB and more: not on the stack of every test */

/* Count the text fed in chunks of `chunk` bytes (0: whole): the end's result, faces, vertices. */
static int count(model_format f, const char *text, size_t chunk, long long *faces,
		 long long *vertices)
{
	size_t len = strlen(text);

	model_count_init(&mc, f);
	if (!chunk)
		chunk = len ? len : 1;
	for (size_t i = 0; i < len; i += chunk) {
		size_t n = len - i < chunk ? len - i : chunk;
		if (model_count_feed(&mc, (const uint8_t *)text + i, n) < 0) {
			CHECK(model_count_end(&mc, faces, vertices) < 0);
			return -1;
		}
	}
	return model_count_end(&mc, faces, vertices);
}

/* The text counts the same (faces, vertices, or the same error) fed whole and in every chunk
 * size from 1 to 17 bytes. */
static void check_splits(model_format f, const char *text)
{
	long long faces = -7, vertices = -7, f2, v2;
	int rc = count(f, text, 0, &faces, &vertices);
	char why[sizeof mc.error];

	snprintf(why, sizeof why, "%s", model_count_error(&mc));
	for (size_t chunk = 1; chunk <= 17; chunk++) {
		f2 = v2 = -7;
		CHECK_EQ_INT(count(f, text, chunk, &f2, &v2), rc);
		CHECK_STR(model_count_error(&mc), why);
		if (rc == 0) {
			CHECK_EQ_INT(f2, faces);
			CHECK_EQ_INT(v2, vertices);
		}
	}
}

/* The bounding box of the last count is (x0, y0, z0) - (x1, y1, z1), exactly. */
static void check_bounds(double x0, double y0, double z0, double x1, double y1, double z1)
{
	double min[3] = {-7, -7, -7}, max[3] = {-7, -7, -7};

	CHECK_EQ_INT(model_count_bounds(&mc, min, max), 0);
	CHECK(min[0] == x0 && min[1] == y0 && min[2] == z0);
	CHECK(max[0] == x1 && max[1] == y1 && max[2] == z1);
}

static const char stl_two[] = "solid two\n"
			      " facet normal 0 0 1\n  outer loop\n"
			      "   vertex 0 0 0\n   vertex 1 0 0\n   vertex 0 1 0\n"
			      "  endloop\n endfacet\n"
			      " FACET NORMAL 0 0 1\r\n  OUTER LOOP\r\n"
			      "   VERTEX 1 0 0\r\n   VERTEX 1.5e+1 -1. .25\r\n   VERTEX +0 1 0\r\n"
			      "  ENDLOOP\r\n ENDFACET\r\n"
			      "endsolid two"; /* no final newline */

static void test_stl_ok(void)
{
	long long faces = 0, vertices = 0;

	CHECK_EQ_INT(count(MODEL_STL_ASCII, stl_two, 0, &faces, &vertices), 0);
	CHECK_EQ_INT(faces, 2);
	CHECK_EQ_INT(vertices, 6);
	CHECK_STR(model_count_error(&mc), "");
	check_bounds(-0.0, -1, 0, 15, 1, 0.25);
	check_splits(MODEL_STL_ASCII, stl_two);
	/* two solids in one file */
	CHECK_EQ_INT(count(MODEL_STL_ASCII,
			   "solid a\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\n"
			   "vertex 0 1 0\nendloop\nendfacet\nendsolid a\nsolid b\nfacet normal 0 0 "
			   "1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\nendloop\n"
			   "endfacet\nendsolid b\n",
			   0, &faces, NULL),
		     0);
	CHECK_EQ_INT(faces, 2);
}

static void test_stl_malformed(void)
{
	static const char four[] = "solid q\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\n"
				   "vertex 1 0 0\nvertex 1 1 0\nvertex 0 1 0\nendloop\nendfacet\n";
	static const char nan[] = "solid q\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\n"
				  "vertex 1 abc 0\nvertex 0 1 0\nendloop\nendfacet\n";

	CHECK_EQ_INT(count(MODEL_STL_ASCII, four, 0, NULL, NULL), -1);
	CHECK_STR(model_count_error(&mc), "line 2: a facet with 4 vertices (a triangle has 3)");
	check_splits(MODEL_STL_ASCII, four);
	CHECK_EQ_INT(count(MODEL_STL_ASCII, nan, 0, NULL, NULL), -1);
	CHECK_STR(model_count_error(&mc), "line 5: 'abc' is not a number");
	check_splits(MODEL_STL_ASCII, nan);
	CHECK_EQ_INT(
	    count(MODEL_STL_ASCII, "solid q\nfacet normal 0 0 1\nvertex 1 2\n", 0, NULL, NULL), -1);
	CHECK_STR(model_count_error(&mc), "line 3: a vertex has 2 numbers instead of 3 (x y z)");
	CHECK_EQ_INT(count(MODEL_STL_ASCII, "solid q\nvertex 1 2 3\n", 0, NULL, NULL), -1);
	CHECK_STR(model_count_error(&mc), "line 2: a vertex outside a facet");
	CHECK_EQ_INT(count(MODEL_STL_ASCII, "solid empty\nendsolid empty\n", 0, NULL, NULL), -1);
	CHECK_STR(model_count_error(&mc), "no facet at all");
	CHECK_EQ_INT(count(MODEL_STL_ASCII,
			   "solid q\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\n", 0, NULL,
			   NULL),
		     -1);
	CHECK_STR(model_count_error(&mc),
		  "line 4: the file ends inside the facet of line 2 (cut short?)");
	CHECK_EQ_INT(count(MODEL_STL_ASCII, "solid q\nfacet normal 0 0 1\nfacet normal 0 0 1\n", 0,
			   NULL, NULL),
		     -1);
	CHECK_STR(model_count_error(&mc), "line 3: a facet starts before the facet of line 2 ends");
	/* numbers that are not: a bare sign, a dot, an exponent without digits, inf */
	for (int i = 0; i < 4; i++) {
		static const char *const bad[] = {"-", ".", "1e", "inf"};
		char text[128];
		snprintf(text, sizeof text, "facet normal 0 0 1\nvertex 0 %s 0\n", bad[i]);
		CHECK_EQ_INT(count(MODEL_STL_ASCII, text, 0, NULL, NULL), -1);
	}
}

static void test_numbers(void)
{
	static const struct {
		const char *text;
		double v; /* the nearest double: the compiler's conversion */
	} ok[] = {{"0", 0},
		  {"-0.5", -0.5},
		  {"+12.25", 12.25},
		  {"123.456", 123.456},
		  {"0.1", 0.1},
		  {"-7.", -7},
		  {".5", 0.5},
		  {"1e3", 1e3},
		  {"1.5E-3", 1.5e-3},
		  {"2.5e+2", 250},
		  {"1e-400", 0},
		  {"0001.000", 1},
		  {"9.999999e+01", 99.99999}};
	static const char *const bad[] = {"",	 "-",	".",	"+.",	 "1e",	  "1e+", "inf",
					  "nan", "1,5", "0x10", "1e999", "1.2.3", "--1"};
	char text[128];

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		snprintf(text, sizeof text, "v %s 0 0\nv 0 %s 0\nv 0 0 %s\nf 1 2 3\n", ok[i].text,
			 ok[i].text, ok[i].text);
		CHECK_EQ_INT(count(MODEL_OBJ, text, 0, NULL, NULL), 0);
		check_bounds(ok[i].v < 0 ? ok[i].v : 0, ok[i].v < 0 ? ok[i].v : 0,
			     ok[i].v < 0 ? ok[i].v : 0, ok[i].v > 0 ? ok[i].v : 0,
			     ok[i].v > 0 ? ok[i].v : 0, ok[i].v > 0 ? ok[i].v : 0);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, "v 0 0 %s\n", bad[i]);
		CHECK_EQ_INT(count(MODEL_OBJ, text, 0, NULL, NULL), -1);
	}
}

static void test_long_line(void)
{
	static char text[2 * MODEL_LINE_MAX];
	long long faces = 0;
	size_t n;

	/* a line of exactly MODEL_LINE_MAX bytes (then CRLF) is fine, one more byte is not */
	n = (size_t)snprintf(text, sizeof text, "solid ");
	memset(text + n, 'x', MODEL_LINE_MAX - n);
	strcpy(text + MODEL_LINE_MAX, "\nfacet normal 0 0 1\nvertex 0 0 0\nvertex 1 0 0\n"
				      "vertex 0 1 0\nendfacet\n");
	CHECK_EQ_INT(count(MODEL_STL_ASCII, text, 0, &faces, NULL), 0);
	CHECK_EQ_INT(faces, 1);
	CHECK_EQ_INT(count(MODEL_STL_ASCII, text, 1000, &faces, NULL), 0);
	memmove(text + 1, text, strlen(text) + 1);
	CHECK_EQ_INT(count(MODEL_STL_ASCII, text, 0, NULL, NULL), -1);
	CHECK_STR(model_count_error(&mc), "line 1: longer than 4096 characters");
	check_splits(MODEL_STL_ASCII, text);
	/* the same in an OBJ, on its third line; and a last line without '\n' */
	n = (size_t)snprintf(text, sizeof text, "v 0 0 0\nv 1 0 0\n# ");
	memset(text + n, 'c', MODEL_LINE_MAX + 1);
	text[n + MODEL_LINE_MAX + 1] = '\0';
	CHECK_EQ_INT(count(MODEL_OBJ, text, 0, NULL, NULL), -1);
	CHECK_STR(model_count_error(&mc), "line 3: longer than 4096 characters");
}

static const char obj_cube[] = "# a cube\r\n"
			       "mtllib cube.mtl\no cube\n"
			       "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\n"
			       "v 0 0 1\nv 1 0 1\nv 1 1 1\nv 0 1 1 1.0 # w\n"
			       "vt 0 0\nvt 1 0\nvt 1 1\nvn 0 0 -1\nvn 0 0 1\n"
			       "usemtl red\ns off\n"
			       "f 1 2 3 4\n"		    /* 2 triangles */
			       "f 5/1 6/2 7/3 8/1\r\n"	    /* 2 */
			       "f 1//1 2//1 6//1\n"	    /* 1 */
			       "f 1/1/2 6/2/2 5/3/2\n"	    /* 1 */
			       "f -8 -7 -3 -4 # relative\n" /* 2, the same as 1 2 6 5 */
			       "g side\n"
			       "f 2 3 7 6 8 4\n"; /* a hexagon: 4 */

static void test_obj_ok(void)
{
	long long faces = 0, vertices = 0;

	CHECK_EQ_INT(count(MODEL_OBJ, obj_cube, 0, &faces, &vertices), 0);
	CHECK_EQ_INT(faces, 12);
	CHECK_EQ_INT(vertices, 8);
	check_bounds(0, 0, 0, 1, 1, 1);
	check_splits(MODEL_OBJ, obj_cube);
	/* a UTF-8 byte order mark before the first statement (Windows editors) */
	CHECK_EQ_INT(count(MODEL_OBJ, "\xef\xbb\xbfv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", 0, &faces,
			   &vertices),
		     0);
	CHECK_EQ_INT(vertices, 3);
	CHECK_EQ_INT(
	    count(MODEL_OBJ, "v 0 0 0\n\xef\xbb\xbfv 1 0 0\nv 0 1 0\nf 1 2 3\n", 0, NULL, NULL),
	    -1); /* only at the start */
}

/* The error of an OBJ made of eight vertices, two texture coordinates, one normal and then the
 * line `face` (line 12). */
static const char *obj_error(const char *face)
{
	char text[512];

	snprintf(text, sizeof text,
		 "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0 0 1\nv 1 0 1\nv 1 1 1\nv 0 1 1\n"
		 "vt 0 0\nvt 1 1\nvn 0 0 1\n%s\n",
		 face);
	if (count(MODEL_OBJ, text, 0, NULL, NULL) == 0)
		return "(no error)";
	return model_count_error(&mc);
}

static void test_obj_malformed(void)
{
	CHECK_STR(obj_error("f 1 2 40"), "line 12: face refers to vertex 40 of 8");
	CHECK_STR(obj_error("f 1 2 0"), "line 12: face refers to vertex 0 of 8");
	CHECK_STR(obj_error("f -1 -2 -9"), "line 12: face refers to vertex -9 of 8");
	CHECK_STR(obj_error("f 1/3 2/1 3/1"), "line 12: face refers to texture coordinate 3 of 2");
	CHECK_STR(obj_error("f 1//2 2//1 3//1"), "line 12: face refers to normal 2 of 1");
	CHECK_STR(obj_error("f 1/1/1 2/2/1 3/-3/1"),
		  "line 12: face refers to texture coordinate -3 of 2");
	CHECK_STR(obj_error("f 1 2 99999999999999999999"),
		  "line 12: face refers to vertex 1000000000000000 of 8");
	CHECK_STR(obj_error("f 1 2"), "line 12: a face needs at least 3 vertices, not 2");
	CHECK_STR(obj_error("f 1 2 3/1/1/1"), "line 12: '3/1/1/1' is not a vertex reference");
	CHECK_STR(obj_error("f 1 2 a"), "line 12: 'a' is not a vertex reference");
	CHECK_STR(obj_error("f 1 2 3/"), "(no error)"); /* "3/": an empty texture index */
	CHECK_STR(obj_error("f 1 2 3//"), "line 12: '3//' is not a vertex reference");
	CHECK_STR(obj_error("v 1 2"), "line 12: a vertex needs 3 numbers (x y z)");
	CHECK_STR(obj_error("v 1 2 z"), "line 12: 'z' is not a number");
	/* a face refers only to vertices before it */
	CHECK_EQ_INT(count(MODEL_OBJ, "f 1 2 3\nv 0 0 0\nv 1 0 0\nv 0 1 0\n", 0, NULL, NULL), -1);
	CHECK_STR(model_count_error(&mc), "line 1: face refers to vertex 1 of 0");
	CHECK_EQ_INT(count(MODEL_OBJ, "v 0 0 0\nv 1 0 0\nv 0 1 0\nl 1 2\n", 0, NULL, NULL), -1);
	CHECK_STR(model_count_error(&mc), "no face at all");
	/* once malformed, later feeds fail too */
	CHECK_EQ_INT(model_count_feed(&mc, (const uint8_t *)"f 1 2 3\n", 8), -1);
	CHECK_STR(model_count_error(&mc), "no face at all");
	check_splits(MODEL_OBJ, "v 0 0 0\nv 1 0 0\nv 0 1 0\r\nf 1 2 4\r\n");
}

static void test_3mf_xml(void)
{
	static const char xml[] =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<model unit=\"millimeter\" xmlns=\"http://schemas.microsoft.com/3dmanufacturing/"
	    "core/2015/02\" xmlns:m=\"urn:m\">"
	    "<!-- triangles and vertices in a comment are words, not tags -->"
	    "<resources><object id=\"1\" type=\"model\"><mesh><vertices>"
	    "<vertex x=\"0\" y=\"0\" z=\"0\"/><vertex x=\"1\" y=\"0\" z=\"0\"/>"
	    "<vertex\tx=\"0\" y=\"1\" z=\"0\"></vertex><m:vertex x=\"0\" y=\"0\" z=\"1\" />"
	    "<vertexx/><vertex-like/></vertices><triangles>"
	    "<triangle v1=\"0\" v2=\"1\" v3=\"2\"/><triangle v1=\"0\" v2=\"1\" v3=\"3\"/>\n"
	    "<m:triangle v1=\"1\" v2=\"2\" v3=\"3\"/><triangle\nv1=\"0\" v2=\"2\" v3=\"3\"/>"
	    "<triangles2/></triangles></mesh></object></resources>"
	    "<build><item objectid=\"1\"/></build></model>";
	long long faces = 0, vertices = 0;

	CHECK_EQ_INT(count(MODEL_3MF, xml, 0, &faces, &vertices), 0);
	CHECK_EQ_INT(faces, 4);
	CHECK_EQ_INT(vertices, 4);
	{
		double min[3], max[3];
		CHECK_EQ_INT(model_count_bounds(&mc, min, max), -1); /* a 3MF's is not measured */
	}
	check_splits(MODEL_3MF, xml);
	/* a part with no triangle (its object only refers to others) is not malformed */
	CHECK_EQ_INT(count(MODEL_3MF, "<model><build/></model>", 0, &faces, &vertices), 0);
	CHECK_EQ_INT(faces, 0);
	/* a format the counter does not know counts nothing and never fails */
	CHECK_EQ_INT(count(MODEL_STL_BINARY, "\x01\x02", 0, &faces, &vertices), 0);
	CHECK_EQ_INT(faces, 0);
}

int main(void)
{
	RUN(test_stl_ok);
	RUN(test_stl_malformed);
	RUN(test_numbers);
	RUN(test_long_line);
	RUN(test_obj_ok);
	RUN(test_obj_malformed);
	RUN(test_3mf_xml);
	return check_summary();
}
