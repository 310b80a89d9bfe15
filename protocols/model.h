/* model.h - 3D model files (STL, 3MF, OBJ): a sniffer by their first bytes, a face counter. */
#ifndef LB_PROTO_MODEL_H
#define LB_PROTO_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define MODEL_SNIFF_LEN 4096 /* the bytes of a file's head model_sniff wants (fewer is fine) */

typedef enum model_format {
	MODEL_NONE = 0,	  /* none of those below */
	MODEL_STL_ASCII,  /* "solid NAME" / "facet normal" ... */
	MODEL_STL_BINARY, /* 80-byte header, uint32 count, 50 bytes a triangle */
	MODEL_3MF,	  /* a zip ("PK\3\4") holding 3D/3dmodel.model */
	MODEL_ZIP,	  /* a zip that does not show itself as a 3MF in its head */
	MODEL_OBJ,	  /* Wavefront: "v 1 2 3", "f 1 2 3", "o name", "# comment" */
} model_format;

/*
 * The format of a file from its first len bytes (head, up to MODEL_SNIFF_LEN are looked at) and
 * its whole size in bytes (-1 when unknown: then a binary STL is only recognised by a header
 * that is not text). Never fails: MODEL_NONE when nothing matches. Heuristic by nature; meant to
 * name what a file that is NOT G-code looks like, not to prove a file is a model.
 */
model_format model_sniff(const uint8_t *head, size_t len, long long size);

/* The format as a phrase for messages ("an STL model (ASCII)", "a 3MF model"), "" for MODEL_NONE.
 */
const char *model_format_name(model_format f);

/* A model's facts as `prusa-slicer --info MODEL` prints them ("size_x = 20.000000" lines). */
typedef struct model_info {
	double size[3]; /* x, y, z extent, mm */
	double min[3];	/* lowest corner, mm */
	long facets;	/* number_of_facets; -1 unknown */
	int manifold;	/* 1 yes, 0 no, -1 unknown */
	long parts;	/* number_of_parts; -1 unknown */
	double volume;	/* mm3; -1 unknown */
} model_info;

/*
 * Parse `prusa-slicer --info` output (any other lines are skipped: log lines, "[model.stl]").
 * 0 with *out set when the three sizes were found (finite, >= 0), else -1 (out is still
 * initialised with what was found, unknowns -1).
 */
int model_info_parse(const char *text, size_t len, model_info *out);

#define MODEL_LINE_MAX 4096 /* bytes of a text line (STL, OBJ) at most, its '\n' not counted */

/*
 * An incremental face counter, fed a file in chunks of any size (never whole in memory, no heap):
 * MODEL_STL_ASCII counts facets (each a triangle of 3 vertices), MODEL_OBJ counts `v` lines as
 * vertices and `f` lines of n >= 3 vertex references as n - 2 triangles, MODEL_3MF (fed the
 * inflated XML of the 3D model parts) counts <vertex> and <triangle> elements. Any other format
 * counts nothing. Fields are private.
 */
typedef struct model_count {
	model_format format;
	int failed;		      /* 1 once malformed: feeds do nothing more */
	long long line;		      /* text: lines done so far */
	long long faces, vertices;    /* triangles, vertices */
	long long texcoords, normals; /* OBJ: vt, vn lines */
	long long facet_line;	      /* STL: the line of the open facet's "facet" */
	int in_facet, facet_vertices; /* STL: in a facet, its vertex lines so far */
	int bounded;		      /* STL, OBJ: min and max hold a vertex at least */
	double min[3], max[3];	      /* STL, OBJ: the vertices' bounding box */
	int in_tag;		      /* 3MF: 1 while reading a tag's name after '<' */
	size_t tag_len; /* 3MF: bytes of the name so far (more than tag holds: none) */
	char tag[12];	/* 3MF: the name so far, without a namespace prefix */
	size_t len;	/* text: bytes of an unfinished line in buf */
	char buf[MODEL_LINE_MAX];
	char error[128];
} model_count;

/* Start counting a file of format f (MODEL_STL_ASCII, MODEL_OBJ or MODEL_3MF). Never fails. */
void model_count_init(model_count *c, model_format f);

/*
 * Count the next len bytes of the file. 0, or -1 when the text is malformed (then and for every
 * later call; model_count_error says why, with the line for text formats): an STL facet with
 * other than 3 vertices, a vertex outside a facet, a vertex coordinate that is not a number; an
 * OBJ vertex without 3 numbers, a face of fewer than 3 vertices or referring to a vertex (or
 * texture coordinate, normal) that does not exist before it; a text line longer than
 * MODEL_LINE_MAX bytes. Lines may end in CRLF.
 */
int model_count_feed(model_count *c, const uint8_t *buf, size_t len);

/*
 * The end of the file: counts its last line (without '\n'), then 0 with *faces and *vertices
 * (either may be NULL), or -1 malformed: an earlier feed failed, the file ends inside an STL
 * facet, or a text model (STL, OBJ) has no face at all. A 3MF part without triangles is fine
 * (it may only refer to others).
 */
int model_count_end(model_count *c, long long *faces, long long *vertices);

/* The triangles counted so far (to stop early on a model too big). Never fails. */
long long model_count_faces(const model_count *c);

/* The bounding box of the vertices so far (STL: of its facets; OBJ: every `v`, used or not):
 * 0 with min and max, or -1 when unknown (a 3MF, no vertex yet, or malformed). */
int model_count_bounds(const model_count *c, double min[3], double max[3]);

/* Why the text is malformed ("line 12: face refers to vertex 40 of 8"), "" when it is not. */
const char *model_count_error(const model_count *c);

#endif
