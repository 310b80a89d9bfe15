/* mcheck.c - the print service's check of an uploaded 3D model (STL, 3MF, OBJ) before slicing. */
#include "mcheck.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ziplib.h"

#define MK_CHUNK 65536 /* bytes read (or inflated) at a time */
#define MK_AGAIN "export it again from your design program"

/* The facts a check finds. */
typedef struct mk_result {
	const char *format; /* "stl", "stl-binary", "3mf", "obj" */
	const char *ext;    /* "stl", "3mf", "obj" */
	long long faces, vertices;
	int sized;	       /* 1 when min and max are known */
	double min[3], max[3]; /* the bounding box of the vertices, mm */
} mk_result;

/* The refusal of a model with more than max triangles. Returns LB_EFAIL. */
static int mk_too_many(long long max, lb_error *err)
{
	return lb_error_set(err, LB_ERR_INVALID_PARAMS,
			    "the model has more than %lld triangles (limit of this bridge): "
			    "simplify it (Tinkercad: export at a lower resolution; "
			    "Meshmixer/Blender: reduce) before printing",
			    max);
}

/* n bytes as a phrase: "512 MiB" when a whole number of MiB, else "1234 bytes". */
static void mk_bytes(long long n, char *out, size_t size)
{
	if (n >= (1LL << 20) && n % (1LL << 20) == 0)
		snprintf(out, size, "%lld MiB", n >> 20);
	else
		snprintf(out, size, "%lld bytes", n);
}

/* read(2) retried on EINTR: the bytes read (0 at the end), or -1 with errno. */
static ssize_t mk_read(int fd, uint8_t *buf, size_t len)
{
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

/* The little-endian float32 at p. */
static float mk_float(const uint8_t *p)
{
	uint32_t u =
	    (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	float f;

	memcpy(&f, &u, sizeof f);
	return f;
}

/*
 * Whether a head that model_sniff did not recognise (len bytes, size the file's) is a binary STL
 * shorter than its count says (a cut-short upload without "solid" in its header): a count > 0
 * whose triangles do not fit, and a first triangle that looks like one (12 finite floats of
 * less than 1e6 mm, a normal of length 0 or about 1).
 */
int lb_model_short_stl(const uint8_t *h, size_t len, long long size)
{
	long long n = (long long)h[80] | (long long)h[81] << 8 | (long long)h[82] << 16 |
		      (long long)h[83] << 24;
	double norm = 0;

	if (len < 134 || size < 134 || n == 0 || 84 + 50 * n <= size)
		return 0;
	for (int i = 0; i < 12; i++) {
		float f = mk_float(h + 84 + 4 * i);
		if (!(f > -1e6f && f < 1e6f))
			return 0;
		if (i < 3)
			norm += (double)f * f;
	}
	return norm == 0 || (norm > 0.9 && norm < 1.1);
}

/*
 * The n triangles of a binary STL from fd (at offset 84): their corners' bounding box into *r,
 * every coordinate finite. 0, or LB_EFAIL with err.
 */
static int mk_stl_triangles(int fd, long long n, mk_result *r, lb_error *err)
{
	enum { PER_READ = MK_CHUNK / 50 };
	uint8_t *buf = malloc(PER_READ * 50);
	long long done = 0;
	int rc = LB_EFAIL;

	if (!buf)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	while (done < n) {
		size_t want = (size_t)(n - done < PER_READ ? n - done : PER_READ) * 50;
		ssize_t got = pread(fd, buf, want, (off_t)(84 + 50 * done));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0 || got % 50) {
			lb_error_set(err, LB_ERR_INTERNAL, "cannot read the model: %s",
				     got < 0 ? strerror(errno) : "it changed while read");
			goto cleanup;
		}
		for (ssize_t t = 0; t < got; t += 50) {
			for (int k = 3; k < 12; k++) { /* the corners, after the normal */
				float f = mk_float(buf + t + 4 * k);
				int i = k % 3;
				if (!isfinite(f)) {
					lb_error_set(
					    err, LB_ERR_INVALID_PARAMS,
					    "the binary STL is malformed (triangle %lld has a "
					    "corner that is not a number): " MK_AGAIN,
					    done + t / 50 + 1);
					goto cleanup;
				}
				if (!r->sized || f < r->min[i])
					r->min[i] = f;
				if (!r->sized || f > r->max[i])
					r->max[i] = f;
				r->sized |= i == 2;
			}
		}
		done += got / 50;
	}
	rc = 0;
cleanup:
	free(buf);
	return rc;
}

/*
 * A binary STL of size bytes in fd whose head (84 bytes at least) is at hand: its count fits the
 * size and the limit, its triangles' corners are numbers (their bounding box measured). 0 with
 * *r, or LB_EFAIL with err.
 */
static int mk_stl_binary(int fd, const uint8_t *head, long long size, long long max_faces,
			 mk_result *r, lb_error *err)
{
	long long n = (long long)head[80] | (long long)head[81] << 8 | (long long)head[82] << 16 |
		      (long long)head[83] << 24;
	long long room = (size - 84) / 50;

	if (n == 0)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "the binary STL holds no triangle: " MK_AGAIN);
	if (n > max_faces)
		return mk_too_many(max_faces, err);
	if (size < 84 + 50 * n)
		return lb_error_set(
		    err, LB_ERR_INVALID_PARAMS,
		    "the binary STL says %lld triangles but holds bytes for %lld: the "
		    "file is cut short (upload it again, or " MK_AGAIN ")",
		    n, room);
	if (size > 84 + 50 * n)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "the binary STL says %lld triangles but holds %lld bytes more: "
				    "the file is damaged (" MK_AGAIN ")",
				    n, size - 84 - 50 * n);
	r->format = "stl-binary";
	r->ext = "stl";
	r->faces = n;
	r->vertices = -1;
	return mk_stl_triangles(fd, n, r, err);
}

/*
 * A text model (f: MODEL_STL_ASCII or MODEL_OBJ) read from fd after the head bytes already read
 * (head, hlen): counted through model_count in MK_CHUNK reads, stopped past the face limit.
 * 0 with *r, or LB_EFAIL with err.
 */
static int mk_text(int fd, model_format f, const uint8_t *head, size_t hlen, long long max_faces,
		   mk_result *r, lb_error *err)
{
	const char *what = f == MODEL_OBJ ? "OBJ" : "STL";
	model_count *c = malloc(sizeof *c);
	uint8_t *buf = malloc(MK_CHUNK);
	int rc = LB_EFAIL;
	ssize_t n = (ssize_t)hlen;

	if (!c || !buf) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		goto cleanup;
	}
	model_count_init(c, f);
	memcpy(buf, head, hlen);
	while (n > 0) {
		if (model_count_feed(c, buf, (size_t)n) < 0)
			goto malformed;
		if (model_count_faces(c) > max_faces) {
			mk_too_many(max_faces, err);
			goto cleanup;
		}
		n = mk_read(fd, buf, MK_CHUNK);
	}
	if (n < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot read the model: %s", strerror(errno));
		goto cleanup;
	}
	if (model_count_end(c, &r->faces, &r->vertices) < 0)
		goto malformed;
	r->sized = model_count_bounds(c, r->min, r->max) == 0;
	if (r->faces > max_faces) {
		mk_too_many(max_faces, err);
		goto cleanup;
	}
	r->format = f == MODEL_OBJ ? "obj" : "stl";
	r->ext = r->format;
	rc = 0;
	goto cleanup;
malformed:
	lb_error_set(err, LB_ERR_INVALID_PARAMS, "the %s file is malformed (%s): " MK_AGAIN, what,
		     model_count_error(c));
cleanup:
	free(buf);
	free(c);
	return rc;
}

/* Whether an entry name is a 3MF model part: "3D/" then anything ending in ".model". */
static int mk_model_part(const char *name)
{
	size_t n = strlen(name);

	return n > 9 && strncasecmp(name, "3D/", 3) == 0 && strcasecmp(name + n - 6, ".model") == 0;
}

/* The inflation budget of a 3MF check. */
typedef struct mk_budget {
	long long left;		    /* bytes all entries may still inflate to */
	long long max;		    /* max_inflated, for the message */
	int ratio;		    /* max_ratio */
	long long size;		    /* the archive's size in bytes */
	long long faces, max_faces; /* triangles of the parts before, at most */
} mk_budget;

/* The refusal of a 3MF inflating to more than max bytes. Returns LB_EFAIL. */
static int mk_bomb(long long max, lb_error *err)
{
	char lim[32];

	mk_bytes(max, lim, sizeof lim);
	return lb_error_set(err, LB_ERR_INVALID_PARAMS,
			    "the 3MF file inflates to more than %s (a zip bomb?): " MK_AGAIN, lim);
}

/*
 * Inflate entry i of za (name, compressed size comp, declared size size or -1) in MK_CHUNK reads
 * into buf, counting its bytes against the budget b, and its XML through c when c is not NULL;
 * then its size must be the one declared (libzip does not check it: a header may lie either
 * way, and the slicer's unzip trusts it). 0, or LB_EFAIL with err.
 */
static int mk_entry(const lb_ziplib *z, zip_t *za, zip_uint64_t i, const char *name, long long comp,
		    long long size, mk_budget *b, model_count *c, uint8_t *buf, lb_error *err)
{
	zip_file_t *zf;
	long long done = 0;
	zip_int64_t n;
	int rc = LB_EFAIL;

	if (comp < 1 || comp > b->size)
		comp = comp < 1 ? 1 : b->size; /* a lying header cannot widen the ratio */
	if (size > b->left)
		return mk_bomb(b->max, err); /* says so itself */
	zf = z->zip_fopen_index(za, i, 0);
	if (!zf) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS,
			     "the 3MF file is damaged (%.60s: %s): " MK_AGAIN, name,
			     z->zip_error_strerror(z->zip_get_error(za)));
		return LB_EFAIL;
	}
	while ((n = z->zip_fread(zf, buf, MK_CHUNK)) > 0) {
		done += n;
		if (done > b->left) {
			mk_bomb(b->max, err);
			goto cleanup;
		}
		if (done > LB_MODEL_RATIO_FROM && done / comp > b->ratio) {
			lb_error_set(
			    err, LB_ERR_INVALID_PARAMS,
			    "the 3MF part %.60s inflates to more than %d times its compressed "
			    "size (a zip bomb?): " MK_AGAIN,
			    name, b->ratio);
			goto cleanup;
		}
		if (c) {
			model_count_feed(c, buf, (size_t)n); /* 3MF XML is never malformed */
			if (b->faces + model_count_faces(c) > b->max_faces) {
				mk_too_many(b->max_faces, err);
				goto cleanup;
			}
		}
	}
	if (n < 0) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS,
			     "the 3MF file is damaged (%.60s: %s): " MK_AGAIN, name,
			     z->zip_error_strerror(z->zip_file_get_error(zf)));
		goto cleanup;
	}
	if (size >= 0 && done != size) {
		lb_error_set(
		    err, LB_ERR_INVALID_PARAMS,
		    "the 3MF file is damaged (%.60s says %lld bytes but holds %lld): " MK_AGAIN,
		    name, size, done);
		goto cleanup;
	}
	b->left -= done;
	rc = 0;
cleanup:
	z->zip_fclose(zf);
	return rc;
}

/*
 * A 3MF (or another zip) open as dup_fd (a descriptor this function closes, or -1 with errno) of
 * size bytes: every entry inflated within the limits (all of them: the slicer reads its config
 * entries too), the model parts' triangles and vertices counted. 0 with *r, or LB_EFAIL with err.
 */
static int mk_3mf(int dup_fd, long long size, const lb_model_limits *lim, mk_result *r,
		  lb_error *err)
{
	zip_source_t *src = NULL;
	zip_error_t ze;
	FILE *fp;
	mk_budget b = {lim->max_inflated, lim->max_inflated, lim->max_ratio, size, 0,
		       lim->max_faces};
	uint8_t *buf = NULL;
	zip_t *za = NULL;
	zip_int64_t entries;
	int zerr = 0, parts = 0, rc = LB_EFAIL;
	const lb_ziplib *z = lb_ziplib_get(err);

	if (!z) {
		if (dup_fd >= 0)
			close(dup_fd);
		return LB_EFAIL;
	}
	z->zip_error_init(&ze);
	fp = dup_fd >= 0 ? fdopen(dup_fd, "rb") : NULL;
	if (!fp) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot read the model: %s", strerror(errno));
		if (dup_fd >= 0)
			close(dup_fd);
		return LB_EFAIL;
	}
	src = z->zip_source_filep_create(fp, 0, -1, &ze); /* owns fp from now on */
	if (!src)
		fclose(fp);
	za = src ? z->zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze) : NULL;
	if (!za) {
		z->zip_source_free(src);
		zerr = z->zip_error_code_zip(&ze);
		if (zerr == ZIP_ER_NOENT) /* not the file (open): a record in it (zip64) */
			zerr = ZIP_ER_INCONS;
		z->zip_error_fini(&ze);
		z->zip_error_init_with_code(&ze, zerr);
		lb_error_set(err,
			     zerr == ZIP_ER_OPEN || zerr == ZIP_ER_READ || zerr == ZIP_ER_MEMORY
				 ? LB_ERR_INTERNAL
				 : LB_ERR_INVALID_PARAMS,
			     "the 3MF file is not a valid zip archive: %s",
			     z->zip_error_strerror(&ze));
		z->zip_error_fini(&ze);
		return LB_EFAIL;
	}
	buf = malloc(MK_CHUNK);
	if (!buf) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		goto cleanup;
	}
	entries = z->zip_get_num_entries(za, 0);
	if (entries > LB_MODEL_ENTRIES_MAX) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS,
			     "the 3MF file holds more than %d files: " MK_AGAIN,
			     LB_MODEL_ENTRIES_MAX);
		goto cleanup;
	}
	r->faces = r->vertices = 0;
	for (zip_int64_t i = 0; i < entries; i++) {
		zip_stat_t st;
		model_count c;
		long long faces, vertices;
		int part;

		if (z->zip_stat_index(za, (zip_uint64_t)i, 0, &st) < 0 ||
		    !(st.valid & ZIP_STAT_NAME)) {
			lb_error_set(err, LB_ERR_INVALID_PARAMS,
				     "the 3MF file is damaged (%s): " MK_AGAIN,
				     z->zip_error_strerror(z->zip_get_error(za)));
			goto cleanup;
		}
		if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) &&
		    st.encryption_method != ZIP_EM_NONE) {
			lb_error_set(err, LB_ERR_INVALID_PARAMS,
				     "the 3MF file is encrypted (password-protected): export it "
				     "again without a password");
			goto cleanup;
		}
		if ((st.valid & ZIP_STAT_COMP_METHOD) &&
		    !z->zip_compression_method_supported((zip_int32_t)st.comp_method, 0)) {
			lb_error_set(err, LB_ERR_INVALID_PARAMS,
				     "the 3MF file uses a compression this bridge cannot read "
				     "(method %d): " MK_AGAIN,
				     (int)st.comp_method);
			goto cleanup;
		}
		if (st.name[0] && st.name[strlen(st.name) - 1] == '/')
			continue; /* a directory */
		part = mk_model_part(st.name);
		if (part)
			model_count_init(&c, MODEL_3MF);
		if (mk_entry(z, za, (zip_uint64_t)i, st.name,
			     (st.valid & ZIP_STAT_COMP_SIZE) ? (long long)st.comp_size : 1,
			     (st.valid & ZIP_STAT_SIZE) ? (long long)st.size : -1, &b,
			     part ? &c : NULL, buf, err) < 0)
			goto cleanup;
		if (!part)
			continue;
		parts++;
		model_count_end(&c, &faces, &vertices);
		r->faces += faces;
		r->vertices += vertices;
		b.faces = r->faces;
	}
	if (!parts) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS,
			     "the file holds no 3D model (no 3D/....model part): is it a 3MF file? "
			     "" MK_AGAIN " as 3MF");
		goto cleanup;
	}
	if (r->faces == 0) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS,
			     "the 3MF file holds no triangle: " MK_AGAIN);
		goto cleanup;
	}
	r->format = "3mf";
	r->ext = "3mf";
	rc = 0;
cleanup:
	free(buf);
	z->zip_discard(za);
	return rc;
}

void lb_model_limits_default(lb_model_limits *lim)
{
	lim->max_faces = LB_MODEL_FACES_MAX;
	lim->max_inflated = LB_MODEL_INFLATED_MAX;
	lim->max_ratio = LB_MODEL_RATIO_MAX;
}

const char *lb_model_format_key(model_format f)
{
	switch (f) {
	case MODEL_STL_ASCII: return "stl";
	case MODEL_STL_BINARY: return "stl-binary";
	case MODEL_3MF:
	case MODEL_ZIP: return "3mf";
	case MODEL_OBJ: return "obj";
	case MODEL_NONE: break;
	}
	return "";
}

const char *lb_model_format_ext(model_format f)
{
	return f == MODEL_STL_BINARY ? "stl" : lb_model_format_key(f);
}

int lb_model_check_file(const char *path, const lb_model_limits *lim, json_t **meta, lb_error *err)
{
	lb_model_limits l;
	uint8_t head[MODEL_SNIFF_LEN];
	mk_result r;
	struct stat st;
	size_t hlen = 0;
	long long size;
	int fd, rc = LB_EFAIL;

	*meta = NULL;
	memset(&r, 0, sizeof r);
	lb_model_limits_default(&l);
	if (lim && lim->max_faces > 0)
		l.max_faces = lim->max_faces;
	if (lim && lim->max_inflated > 0)
		l.max_inflated = lim->max_inflated;
	if (lim && lim->max_ratio > 0)
		l.max_ratio = lim->max_ratio;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot read %s: %s", path, strerror(errno));
		goto done;
	}
	size = S_ISREG(st.st_mode) ? (long long)st.st_size : -1;
	while (hlen < sizeof head) {
		ssize_t n = mk_read(fd, head + hlen, sizeof head - hlen);
		if (n < 0) {
			lb_error_set(err, LB_ERR_INTERNAL, "cannot read %s: %s", path,
				     strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		hlen += (size_t)n;
	}
	switch (model_sniff(head, hlen, size)) {
	case MODEL_STL_BINARY:
		if (hlen < 84 || size < 0) {
			lb_error_set(err, LB_ERR_INVALID_PARAMS,
				     "the binary STL is cut short: " MK_AGAIN);
			goto done;
		}
		rc = mk_stl_binary(fd, head, size, l.max_faces, &r, err);
		break;
	case MODEL_STL_ASCII:
		rc = mk_text(fd, MODEL_STL_ASCII, head, hlen, l.max_faces, &r, err);
		break;
	case MODEL_OBJ: rc = mk_text(fd, MODEL_OBJ, head, hlen, l.max_faces, &r, err); break;
	case MODEL_3MF:
	case MODEL_ZIP:
		rc = size < 0 ? lb_error_set(err, LB_ERR_INTERNAL, "%s is not a file", path)
			      : mk_3mf(dup(fd), size, &l, &r, err);
		break;
	case MODEL_NONE:
		if (lb_model_short_stl(head, hlen, size))
			rc = mk_stl_binary(fd, head, size, l.max_faces, &r, err);
		else
			rc = lb_error_set(err, LB_ERR_INVALID_PARAMS, "not a 3D model");
		break;
	}
	if (rc < 0)
		goto done;
	*meta = json_pack("{s:{s:s,s:s,s:I,s:I}}", "model", "format", r.format, "ext", r.ext,
			  "faces", (json_int_t)r.faces, "vertices", (json_int_t)r.vertices);
	if (*meta && r.sized)
		json_object_set_new(json_object_get(*meta, "model"), "size",
				    json_pack("[f,f,f]", r.max[0] - r.min[0], r.max[1] - r.min[1],
					      r.max[2] - r.min[2]));
	if (!*meta)
		rc = lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
done:
	if (fd >= 0)
		close(fd);
	return rc;
}
