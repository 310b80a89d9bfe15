/* gcheck.c - the printer family's check of a G-code file, in the shape of a job validation hook. */
#include "gcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GC_LINE_MAX 65536 /* a raw line (comments included) and its '\n' must fit */
#define GC_STR_(x) #x
#define GC_STR(x) GC_STR_(x)

/* Reads a file's lines through a GC_LINE_MAX buffer, never the whole file. */
typedef struct line_reader {
	int fd;
	char *buf;
	size_t start, end; /* the unread bytes: buf[start..end) */
	long long base;	   /* file offset of buf[0] */
	long long size;	   /* bytes of the file to read */
} line_reader;

/*
 * The next line of the file without its '\n': 1 with *line, *len and its file offset *off; 0 at
 * the end; LB_EINVAL when a line does not fit in GC_LINE_MAX bytes; LB_EFAIL on a read error.
 */
static int reader_next(line_reader *r, const char **line, size_t *len, long long *off)
{
	for (;;) {
		char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		long long next = r->base + (long long)r->end;
		size_t want;
		ssize_t n;

		if (nl || next >= r->size) {
			if (!nl && r->start == r->end)
				return 0;
			*line = r->buf + r->start;
			*len = nl ? (size_t)(nl - *line) : r->end - r->start;
			*off = r->base + (long long)r->start;
			r->start = nl ? (size_t)(nl - r->buf) + 1 : r->end;
			return 1;
		}
		if (r->start > 0) {
			memmove(r->buf, r->buf + r->start, r->end - r->start);
			r->base += (long long)r->start;
			r->end -= r->start;
			r->start = 0;
		}
		if (r->end == GC_LINE_MAX)
			return LB_EINVAL;
		want = GC_LINE_MAX - r->end;
		if ((long long)want > r->size - next)
			want = (size_t)(r->size - next);
		n = pread(r->fd, r->buf + r->end, want, (off_t)next);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return LB_EFAIL;
		r->end += (size_t)n;
	}
}

/* Why gcode_clean refused a raw line: too long, or a control byte. */
static const char *clean_failure(const char *line, size_t len)
{
	char *big = malloc(len + 1);
	const char *why = "holds a control character";

	if (big && gcode_clean(line, len, big, len + 1) >= 0)
		why = "longer than " GC_STR(GCODE_CMD_MAX) " characters";
	free(big);
	return why;
}

/*
 * Read a whole file line by line: its metadata into *m (lines and commands counted), each
 * command checked against the policy (when not NULL). 0, or LB_EFAIL with err set
 * (LB_ERR_INVALID_PARAMS "line N: ..." for a bad line).
 */
static int scan_file(int fd, long long size, const gcode_policy *policy, gcode_meta *m,
		     lb_error *err)
{
	line_reader r = {fd, malloc(GC_LINE_MAX), 0, 0, 0, size};
	char cmd[GCODE_CMD_MAX + 1], why[200];
	long nline = 0, ncmd = 0;
	const char *line;
	size_t len;
	long long off;
	int got, rc = LB_EFAIL;

	gcode_meta_init(m);
	if (!r.buf)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	while ((got = reader_next(&r, &line, &len, &off)) > 0) {
		int n;

		nline++;
		gcode_meta_line(m, line, len, (long)off);
		n = gcode_clean(line, len, cmd, sizeof cmd);
		if (n < 0) {
			lb_error_set(err, LB_ERR_INVALID_PARAMS, "line %ld: %s", nline,
				     clean_failure(line, len));
			goto cleanup;
		}
		if (n == 0)
			continue;
		ncmd++;
		if (policy && gcode_policy_check(policy, cmd, why, sizeof why) < 0) {
			lb_error_set(err, LB_ERR_INVALID_PARAMS, "line %ld: %s", nline, why);
			goto cleanup;
		}
	}
	if (got == LB_EINVAL) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS, "line %ld: longer than %d bytes",
			     nline + 1, GC_LINE_MAX - 1);
		goto cleanup;
	}
	if (got < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot read the uploaded file: %s",
			     strerror(errno));
		goto cleanup;
	}
	if (ncmd == 0) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS, "the file holds no G-code command");
		goto cleanup;
	}
	gcode_meta_finish(m);
	m->lines = nline;
	m->commands = ncmd;
	rc = 0;
cleanup:
	free(r.buf);
	return rc;
}

/* The metadata as the JSON object stored with a job (a new object), or NULL. */
static json_t *meta_json(const gcode_meta *m)
{
	json_t *o = json_object(), *thumbs = json_array();
	json_t *done = NULL;

	if (!o || !thumbs)
		goto cleanup;
	json_object_set_new(o, "slicer", m->slicer[0] ? json_string(m->slicer) : json_null());
	json_object_set_new(o, "time_s", m->time_s >= 0 ? json_real(m->time_s) : json_null());
	json_object_set_new(o, "filament_mm",
			    m->filament_mm >= 0 ? json_real(m->filament_mm) : json_null());
	json_object_set_new(o, "filament_g",
			    m->filament_g >= 0 ? json_real(m->filament_g) : json_null());
	json_object_set_new(o, "layer_count",
			    m->layer_count >= 0 ? json_integer(m->layer_count) : json_null());
	json_object_set_new(o, "lines", json_integer(m->lines));
	json_object_set_new(o, "commands", json_integer(m->commands));
	for (int i = 0; i < m->nthumbs && i < GCODE_THUMBS_MAX; i++)
		json_array_append_new(thumbs,
				      json_pack("{s:i,s:i,s:I,s:I}", "width", m->thumbs[i].width,
						"height", m->thumbs[i].height, "offset",
						(json_int_t)m->thumbs[i].begin_offset, "end",
						(json_int_t)m->thumbs[i].end_offset));
	json_object_set(o, "thumbnails", thumbs);
	done = o;
	o = NULL;
cleanup:
	json_decref(thumbs);
	json_decref(o);
	return done;
}

int lb_gcode_check_file(void *policy, const char *path, json_t **meta, lb_error *err)
{
	struct stat st;
	gcode_meta m;
	int fd, rc = LB_EFAIL;

	*meta = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot read %s: %s", path, strerror(errno));
		goto done;
	}
	if (scan_file(fd, (long long)st.st_size, policy, &m, err) < 0)
		goto done;
	*meta = meta_json(&m);
	rc = *meta ? 0 : lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
done:
	if (fd >= 0)
		close(fd);
	return rc;
}
