/* model.h - recognising 3D model files (STL, 3MF, OBJ) by their first bytes: a pure sniffer. */
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

#endif
