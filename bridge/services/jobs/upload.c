/* upload.c - binary uploads for any method that declares them: chunked, checksummed, on disk. */
#include "upload.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "../../util/log.h"
#include "../../util/fsutil.h"

#define UP_PATH_MAX 1024
#define UP_NAME_KEEP 64 /* characters of the sanitized key kept in a part file's name */
#define UP_BLOCK 65536	/* bytes read at a time for a checksum */
#define UP_ID_MAX 128	/* bytes of a client's upload id */

struct lb_uploads {
	char dir[UP_PATH_MAX - 128];
	int64_t expiry_ns;
};

/* A placeholder keeps the section present in a binary without upload methods (unit tests). */
static const lb_upload_decl *lb_upload_none
    __attribute__((section("lb_upload_list"), used, aligned(sizeof(void *)))) = NULL;

extern const lb_upload_decl *__start_lb_upload_list[];
extern const lb_upload_decl *__stop_lb_upload_list[];

const lb_upload_decl *lb_upload_find(const char *method)
{
	(void)lb_upload_none;
	for (const lb_upload_decl **p = __start_lb_upload_list; method && p < __stop_lb_upload_list;
	     p++)
		if (*p && strcmp((*p)->method, method) == 0)
			return *p;
	return NULL;
}

bool lb_upload_method(const char *method)
{
	return lb_upload_find(method) != NULL;
}

lb_uploads *lb_uploads_new(const char *dir, int64_t expiry_ns, lb_error *err)
{
	lb_uploads *u = calloc(1, sizeof *u);
	int n;

	if (!u) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	n = snprintf(u->dir, sizeof u->dir, "%s", dir ? dir : "");
	if (!dir || !*dir || n < 0 || (size_t)n >= sizeof u->dir) {
		lb_error_set(err, LB_ERR_INTERNAL, "uploads: the directory name is too long");
		goto fail;
	}
	if (lb_mkdirs(u->dir, 0750) < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot create the upload directory %s: %s",
			     u->dir, strerror(errno));
		goto fail;
	}
	u->expiry_ns = expiry_ns;
	return u;
fail:
	lb_uploads_destroy(&u);
	return NULL;
}

void lb_uploads_destroy(lb_uploads **u)
{
	if (!u || !*u)
		return;
	free(*u);
	*u = NULL;
}

const char *lb_uploads_dir(const lb_uploads *u)
{
	return u->dir;
}

int lb_upload_key(const char *owner, const char *id, char *key, size_t cap)
{
	int n;

	if (!owner || !id || !*id || strlen(id) > UP_ID_MAX)
		return LB_EINVAL;
	n = snprintf(key, cap, "%s/%s", owner, id);
	return n < 0 || (size_t)n >= cap ? LB_EINVAL : 0;
}

int lb_uploads_path(const lb_uploads *u, const char *key, char *path, size_t cap)
{
	char name[UP_NAME_KEEP + 1];
	uint64_t h = 1469598103934665603ULL;
	size_t n = 0;
	int len;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h = (h ^ *p) * 1099511628211ULL;
		if (n < UP_NAME_KEEP)
			name[n++] = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
					    (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
					    *p == '-'
					? (char)*p
					: '_';
	}
	name[n] = '\0';
	len = snprintf(path, cap, "%s/%s-%016llx.part", u->dir, name, (unsigned long long)h);
	return len < 0 || (size_t)len >= cap ? LB_EINVAL : 0;
}

int lb_uploads_status(const lb_uploads *u, const char *key, long long *offset, lb_error *err)
{
	char part[UP_PATH_MAX];
	struct stat st;

	*offset = 0;
	if (lb_uploads_path(u, key, part, sizeof part) < 0)
		return lb_error_set(err, LB_ERR_INTERNAL, "uploads: path too long");
	if (stat(part, &st) == 0)
		*offset = (long long)st.st_size;
	else if (errno != ENOENT)
		return lb_error_set(err, LB_ERR_INTERNAL, "cannot read %s: %s", part,
				    strerror(errno));
	return 0;
}

/* Write len bytes at offset, retrying short writes; 0 or -1 with errno. */
static int write_at(int fd, const char *p, size_t len, long long offset)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -1 : (errno = EIO, -1);
		p += n;
		len -= (size_t)n;
		offset += n;
	}
	return 0;
}

/* Whether the file starts with the len bytes of chunk (len > 0, len <= its size). */
static bool starts_with(int fd, const void *chunk, size_t len)
{
	char buf[4096];
	size_t done = 0;

	while (done < len) {
		size_t want = len - done < sizeof buf ? len - done : sizeof buf;
		ssize_t n = pread(fd, buf, want, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || memcmp(buf, (const char *)chunk + done, (size_t)n) != 0)
			return false;
		done += (size_t)n;
	}
	return true;
}

int lb_upload_file_crc(int fd, long long size, uint32_t *crc)
{
	char *buf = malloc(UP_BLOCK);
	uLong c = crc32(0L, Z_NULL, 0);
	long long pos = 0;
	int rc = -1;

	if (!buf)
		return errno = ENOMEM, -1;
	while (pos < size) {
		size_t want = size - pos < UP_BLOCK ? (size_t)(size - pos) : UP_BLOCK;
		ssize_t n = pread(fd, buf, want, (off_t)pos);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			goto cleanup;
		}
		c = crc32(c, (const Bytef *)buf, (uInt)n);
		pos += n;
	}
	*crc = (uint32_t)c;
	rc = 0;
cleanup:
	free(buf);
	return rc;
}

/* The crc32 of a chunk in memory (zlib takes at most UINT_MAX bytes at a time). */
static uint32_t chunk_crc(const void *data, size_t len)
{
	uLong c = crc32(0L, Z_NULL, 0);
	const Bytef *p = data;

	while (len > 0) {
		uInt n = len > UINT_MAX ? UINT_MAX : (uInt)len;
		c = crc32(c, p, n);
		p += n;
		len -= n;
	}
	return (uint32_t)c;
}

int lb_uploads_write(lb_uploads *u, const lb_upload_chunk *c, const void *data, size_t len,
		     long long *received, int *fdp, lb_error *err)
{
	char part[UP_PATH_MAX];
	struct stat st;
	long long size = 0, end;
	int fd = -1, rc = LB_EFAIL;

	if (fdp)
		*fdp = -1;
	*received = 0;
	if (!u || !c || !c->key || !*c->key || (len > 0 && !data))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "invalid upload arguments");
	if (c->offset < 0 || len > (size_t)(LLONG_MAX - c->offset))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "invalid offset %lld", c->offset);
	if (lb_uploads_path(u, c->key, part, sizeof part) < 0)
		return lb_error_set(err, LB_ERR_INTERNAL, "uploads: path too long");
	end = c->offset + (long long)len;
	if (c->max_bytes > 0 && end > c->max_bytes) {
		unlink(part);
		return lb_error_set(err, LB_ERR_TOO_LARGE,
				    "the file is larger than the limit of %lld bytes",
				    c->max_bytes);
	}
	if (c->has_crc && chunk_crc(data, len) != c->crc32)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "chunk checksum mismatch at offset %lld: send it again",
				    c->offset);
	if (stat(part, &st) == 0)
		size = (long long)st.st_size;
	else if (errno != ENOENT)
		return lb_error_set(err, LB_ERR_INTERNAL, "cannot read %s: %s", part,
				    strerror(errno));
	if (c->offset > size)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "expected offset %lld", size);
	if (len == 0 && !c->final) {
		/* an empty chunk only asks how much arrived: it makes no part file */
		*received = size;
		return 0;
	}
	if (c->offset == 0)
		lb_uploads_sweep(u, c->now_real); /* an upload starts: clear the abandoned ones */
	fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0 || fstat(fd, &st) < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot open %s: %s", part, strerror(errno));
		goto cleanup;
	}
	size = (long long)st.st_size;
	/* offset 0 restarts the upload, unless it repeats the start already received */
	if (c->offset == 0 && size > 0 &&
	    !((long long)len <= size && len > 0 && starts_with(fd, data, len))) {
		if (ftruncate(fd, 0) < 0) {
			lb_error_set(err, LB_ERR_INTERNAL, "cannot truncate %s: %s", part,
				     strerror(errno));
			goto cleanup;
		}
		size = 0;
	}
	if (c->offset > size) { /* the part shrank meanwhile */
		lb_error_set(err, LB_ERR_INVALID_PARAMS, "expected offset %lld", size);
		goto cleanup;
	}
	if (end > size) {
		if (write_at(fd, (const char *)data + (size - c->offset), (size_t)(end - size),
			     size) < 0) {
			lb_error_set(err, LB_ERR_INTERNAL, "cannot write %s: %s", part,
				     strerror(errno));
			if (ftruncate(fd, size) < 0)
				lb_warn("uploads: cannot truncate %s: %s", part, strerror(errno));
			goto cleanup;
		}
		size = end;
	}
	if (c->final) {
		/* the final chunk ends the file */
		if ((size > end && ftruncate(fd, end) < 0) || fsync(fd) < 0) {
			lb_error_set(err, LB_ERR_INTERNAL, "cannot write %s: %s", part,
				     strerror(errno));
			goto cleanup;
		}
		size = end;
	}
	*received = size;
	rc = 0;
	if (c->final && fdp) {
		*fdp = fd;
		fd = -1;
	}
cleanup:
	/* a failed start leaves no part file behind */
	if (rc < 0 && fd >= 0 && fstat(fd, &st) == 0 && st.st_size == 0)
		unlink(part);
	if (fd >= 0)
		close(fd);
	return rc;
}

void lb_uploads_discard(lb_uploads *u, const char *key)
{
	char part[UP_PATH_MAX];

	if (u && key && lb_uploads_path(u, key, part, sizeof part) == 0 && unlink(part) < 0 &&
	    errno != ENOENT)
		lb_warn("uploads: cannot remove %s: %s", part, strerror(errno));
}

void lb_uploads_sweep(lb_uploads *u, int64_t now_real)
{
	DIR *d = u && u->expiry_ns > 0 ? opendir(u->dir) : NULL;
	struct dirent *e;

	while (d && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		char path[UP_PATH_MAX];
		struct stat st;
		int64_t mtime;

		if (n < 5 || strcmp(e->d_name + n - 5, ".part") != 0 ||
		    snprintf(path, sizeof path, "%s/%s", u->dir, e->d_name) >= (int)sizeof path ||
		    lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		mtime = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
		if (now_real - mtime < u->expiry_ns)
			continue;
		if (unlink(path) == 0)
			lb_info("uploads: removed %s (an upload abandoned for over %lld min)", path,
				(long long)(u->expiry_ns / 60000000000LL));
		else
			lb_warn("uploads: cannot remove %s: %s", path, strerror(errno));
	}
	if (d)
		closedir(d);
}
