/* gcheck.c - the printer family's check of a G-code file, in the shape of a job validation hook. */
#include "gcheck.h"

#include "../../../protocols/model.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GC_LINE_MAX 65536 /* a raw line (comments included) and its '\n' must fit */
#define GC_QUOTE_MAX 40	  /* bytes of a refused line quoted in the message */
#define GC_MODEL_ADVICE "a model is sliced by the bridge when it is uploaded as one (STL, 3MF, OBJ)"
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

/* The model format the file's head looks like (MODEL_NONE when none, or unreadable). */
static model_format sniff_file(int fd, long long size)
{
	uint8_t head[MODEL_SNIFF_LEN];
	ssize_t n;

	do
		n = pread(fd, head, sizeof head, 0);
	while (n < 0 && errno == EINTR);
	return n > 0 ? model_sniff(head, (size_t)n, size) : MODEL_NONE;
}

/* A cleaned command quoted for a message into out[cap]: printable ASCII only (others '?'), at
 * most GC_QUOTE_MAX bytes then "...". */
static void quote_command(const char *cmd, char *out, size_t cap)
{
	size_t n = 0, i;

	for (i = 0; cmd[i] && i < GC_QUOTE_MAX && n + 4 < cap; i++) {
		unsigned char c = (unsigned char)cmd[i];
		out[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (cmd[i] && n + 4 <= cap) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

/*
 * Set err for a file refused by a line (why: "line N: ..." already written in err->message): when
 * the file looks like a 3D model, say so instead (a binary one: the line does not matter) or in
 * addition (a text one). Returns LB_EFAIL.
 */
static int refuse_model(int fd, long long size, int binary, lb_error *err)
{
	model_format f = sniff_file(fd, size);
	char was[sizeof err->message];

	if (f == MODEL_NONE)
		return LB_EFAIL;
	if (binary || f == MODEL_STL_BINARY || f == MODEL_3MF || f == MODEL_ZIP)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "not G-code: this looks like %s; " GC_MODEL_ADVICE,
				    model_format_name(f));
	snprintf(was, sizeof was, "%s", err->message);
	return lb_error_set(err, LB_ERR_INVALID_PARAMS, "%s: this looks like %s; " GC_MODEL_ADVICE,
			    was, model_format_name(f));
}

/*
 * Read a whole file line by line: its metadata into *m (lines and commands counted), each line
 * a G-code command (or blank/comment), each command checked against the policy (when not NULL).
 * 0, or LB_EFAIL with err set (LB_ERR_INVALID_PARAMS "line N: ..." for a bad line, naming the
 * 3D model format the file looks like when it is one: STL, 3MF, OBJ).
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
			refuse_model(fd, size, 1, err);
			goto cleanup;
		}
		if (n == 0)
			continue;
		if (gcode_strip_frame(cmd) < 0) {
			lb_error_set(err, LB_ERR_INVALID_PARAMS,
				     "line %ld: its own line number and checksum do not match (a "
				     "damaged file?)",
				     nline);
			goto cleanup;
		}
		if (!gcode_is_command(cmd)) {
			char q[GC_QUOTE_MAX + 8];

			quote_command(cmd, q, sizeof q);
			lb_error_set(err, LB_ERR_INVALID_PARAMS,
				     "line %ld: '%s' is not a G-code command", nline, q);
			refuse_model(fd, size, 0, err);
			goto cleanup;
		}
		ncmd++;
		if (policy && gcode_policy_check(policy, cmd, why, sizeof why) < 0) {
			lb_error_set(err, LB_ERR_INVALID_PARAMS, "line %ld: %s", nline, why);
			goto cleanup;
		}
	}
	if (got == LB_EINVAL) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS, "line %ld: longer than %d bytes",
			     nline + 1, GC_LINE_MAX - 1);
		refuse_model(fd, size, 1, err);
		goto cleanup;
	}
	if (got < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot read the uploaded file: %s",
			     strerror(errno));
		goto cleanup;
	}
	if (ncmd == 0) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS, "the file holds no G-code command");
		refuse_model(fd, size, 1, err);
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
