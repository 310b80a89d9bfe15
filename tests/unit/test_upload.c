/* test_upload.c - generic uploads: declarations, chunks, checksums, limits, resume, sweeping. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "../../bridge/services/jobs/upload.h"

static char root[] = "/tmp/lbtest-upload-XXXXXX";
static int ndirs;

/* A method of this test, declared as a service declares its own. */
LB_UPLOAD_METHOD(test_small, "test.small", 100, "small");

/* A fresh directory for one test, under root. */
static void fresh_dir(char *dir, size_t cap)
{
	snprintf(dir, cap, "%s/t%d", root, ++ndirs);
}

/* The size of a file, or -1. */
static long long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* A chunk of key at offset. */
static lb_upload_chunk chunk_of(const char *key, long long offset, bool final)
{
	lb_upload_chunk c = {0};

	c.key = key;
	c.offset = offset;
	c.final = final;
	c.now_real = 1000;
	return c;
}

static void test_declarations(void)
{
	const lb_upload_decl *d = lb_upload_find("test.small");

	CHECK(d != NULL);
	if (d) {
		CHECK_EQ_INT(d->max_bytes, 100);
		CHECK_STR(d->subdir, "small");
	}
	CHECK(lb_upload_method("test.small"));
	/* the print service's declaration is linked in too (the server reads only this) */
	CHECK(lb_upload_method("print.upload"));
	CHECK(!lb_upload_method("devices.list"));
	CHECK(!lb_upload_method("print.upload2"));
	CHECK(!lb_upload_method(NULL));
}

static void test_keys(void)
{
	char key[300], long_id[200], path[600], path2[600];
	lb_error err = {0};
	lb_uploads *u;
	char dir[256];

	CHECK_EQ_INT(lb_upload_key("unix:alice", "r1", key, sizeof key), 0);
	CHECK_STR(key, "unix:alice/r1");
	CHECK_EQ_INT(lb_upload_key("unix:alice", "", key, sizeof key), LB_EINVAL);
	memset(long_id, 'x', 129);
	long_id[129] = '\0';
	CHECK_EQ_INT(lb_upload_key("unix:alice", long_id, key, sizeof key), LB_EINVAL);
	long_id[128] = '\0';
	CHECK_EQ_INT(lb_upload_key("unix:alice", long_id, key, sizeof key), 0);
	CHECK_EQ_INT(lb_upload_key("unix:alice", "r1", key, 8), LB_EINVAL);
	fresh_dir(dir, sizeof dir);
	u = lb_uploads_new(dir, 0, &err);
	CHECK(u != NULL);
	if (!u)
		return;
	/* ids that sanitize alike get different files; nothing escapes the directory */
	CHECK_EQ_INT(lb_uploads_path(u, "unix:a/x y", path, sizeof path), 0);
	CHECK_EQ_INT(lb_uploads_path(u, "unix:a/x_y", path2, sizeof path2), 0);
	CHECK(strcmp(path, path2) != 0);
	CHECK_EQ_INT(lb_uploads_path(u, "unix:a/../../etc", path, sizeof path), 0);
	CHECK(strncmp(path, dir, strlen(dir)) == 0);
	CHECK(strchr(path + strlen(dir) + 1, '/') == NULL);
	CHECK_STR(lb_uploads_dir(u), dir);
	lb_uploads_destroy(&u);
	CHECK(u == NULL);
	lb_uploads_destroy(&u);
	CHECK(lb_uploads_new("/proc/nope/dir", 0, &err) == NULL);
	CHECK(lb_uploads_new(NULL, 0, &err) == NULL);
}

static void test_chunks_and_resume(void)
{
	static const char text[] = "G28\nG1 X10 Y10\nG1 X20 Y20\nM84\n";
	const size_t len = sizeof text - 1;
	char dir[256], path[600], back[64];
	lb_error err = {0};
	lb_uploads *u;
	lb_upload_chunk c;
	long long got, off;
	int fd = -1;
	uint32_t crc;

	fresh_dir(dir, sizeof dir);
	u = lb_uploads_new(dir, 0, &err);
	if (!u) {
		CHECK(u != NULL);
		return;
	}
	lb_uploads_path(u, "k", path, sizeof path);
	/* asking makes no file */
	c = chunk_of("k", 0, false);
	CHECK_EQ_INT(lb_uploads_write(u, &c, NULL, 0, &got, &fd, &err), 0);
	CHECK_EQ_INT(got, 0);
	CHECK_EQ_INT(file_size(path), -1);
	CHECK_EQ_INT(lb_uploads_status(u, "k", &off, &err), 0);
	CHECK_EQ_INT(off, 0);
	/* a first chunk with its checksum */
	c.has_crc = true;
	c.crc32 = (uint32_t)crc32(0, (const Bytef *)text, 10);
	CHECK_EQ_INT(lb_uploads_write(u, &c, text, 10, &got, &fd, &err), 0);
	CHECK_EQ_INT(got, 10);
	CHECK_EQ_INT(fd, -1); /* not final: no descriptor handed out */
	/* (the connection drops) the client asks where to go on */
	CHECK_EQ_INT(lb_uploads_status(u, "k", &off, &err), 0);
	CHECK_EQ_INT(off, 10);
	/* a wrong checksum: refused, nothing written */
	c = chunk_of("k", 10, false);
	c.has_crc = true;
	c.crc32 = (uint32_t)crc32(0, (const Bytef *)text + 10, 5) ^ 1;
	CHECK_EQ_INT(lb_uploads_write(u, &c, text + 10, 5, &got, &fd, &err), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK_CONTAINS(err.message, "chunk checksum mismatch");
	CHECK_EQ_INT(file_size(path), 10);
	/* a gap: refused with the offset expected */
	c = chunk_of("k", 12, false);
	CHECK_EQ_INT(lb_uploads_write(u, &c, text + 12, 3, &got, &fd, &err), LB_EFAIL);
	CHECK_STR(err.message, "expected offset 10");
	/* a repeat of a chunk received (a retry after a timeout) changes nothing */
	c = chunk_of("k", 5, false);
	CHECK_EQ_INT(lb_uploads_write(u, &c, text + 5, 5, &got, &fd, &err), 0);
	CHECK_EQ_INT(got, 10);
	c = chunk_of("k", 0, false);
	CHECK_EQ_INT(lb_uploads_write(u, &c, text, 10, &got, &fd, &err), 0);
	CHECK_EQ_INT(got, 10);
	/* an overlap: the new part is appended */
	c = chunk_of("k", 5, false);
	CHECK_EQ_INT(lb_uploads_write(u, &c, text + 5, 15, &got, &fd, &err), 0);
	CHECK_EQ_INT(got, 20);
	/* the final chunk: a descriptor of the whole, synced file */
	c = chunk_of("k", 20, true);
	CHECK_EQ_INT(lb_uploads_write(u, &c, text + 20, len - 20, &got, &fd, &err), 0);
	CHECK_EQ_INT(got, (long long)len);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK_EQ_INT(pread(fd, back, sizeof back, 0), (long long)len);
		CHECK(memcmp(back, text, len) == 0);
		CHECK_EQ_INT(lb_upload_file_crc(fd, (long long)len, &crc), 0);
		CHECK_EQ_UINT(crc, (uint32_t)crc32(0, (const Bytef *)text, (uInt)len));
		close(fd);
	}
	/* a final chunk that ends earlier cuts the file there */
	c = chunk_of("k", 4, true);
	CHECK_EQ_INT(lb_uploads_write(u, &c, NULL, 0, &got, &fd, &err), 0);
	CHECK_EQ_INT(got, 4);
	if (fd >= 0)
		close(fd);
	CHECK_EQ_INT(file_size(path), 4);
	/* offset 0 with other bytes restarts the upload */
	c = chunk_of("k", 0, false);
	CHECK_EQ_INT(lb_uploads_write(u, &c, "M84\n", 4, &got, NULL, &err), 0);
	CHECK_EQ_INT(got, 4);
	CHECK_EQ_INT(lb_uploads_write(u, &c, "M84\nG28", 7, &got, NULL, &err), 0);
	CHECK_EQ_INT(got, 7);
	c = chunk_of("k", 0, false);
	CHECK_EQ_INT(lb_uploads_write(u, &c, "XY", 2, &got, NULL, &err), 0);
	CHECK_EQ_INT(got, 2);
	lb_uploads_discard(u, "k");
	CHECK_EQ_INT(file_size(path), -1);
	lb_uploads_discard(u, "k"); /* twice is fine */
	/* bad arguments */
	c = chunk_of("k", -1, false);
	CHECK_EQ_INT(lb_uploads_write(u, &c, "x", 1, &got, NULL, &err), LB_EFAIL);
	c = chunk_of("", 0, false);
	CHECK_EQ_INT(lb_uploads_write(u, &c, "x", 1, &got, NULL, &err), LB_EFAIL);
	c = chunk_of("k", 0, false);
	CHECK_EQ_INT(lb_uploads_write(u, &c, NULL, 1, &got, NULL, &err), LB_EFAIL);
	CHECK_EQ_INT(file_size(path), -1);
	lb_uploads_destroy(&u);
}

static void test_limit(void)
{
	char dir[256], path[600], buf[64];
	lb_error err = {0};
	lb_uploads *u;
	lb_upload_chunk c;
	long long got;

	memset(buf, 'a', sizeof buf);
	fresh_dir(dir, sizeof dir);
	u = lb_uploads_new(dir, 0, &err);
	if (!u) {
		CHECK(u != NULL);
		return;
	}
	lb_uploads_path(u, "big", path, sizeof path);
	c = chunk_of("big", 0, false);
	c.max_bytes = 100;
	CHECK_EQ_INT(lb_uploads_write(u, &c, buf, 64, &got, NULL, &err), 0);
	/* a chunk that would go over: refused before writing, and the upload is dropped */
	c.offset = 64;
	CHECK_EQ_INT(lb_uploads_write(u, &c, buf, 40, &got, NULL, &err), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_TOO_LARGE);
	CHECK_STR(err.message, "the file is larger than the limit of 100 bytes");
	CHECK_EQ_INT(file_size(path), -1);
	/* exactly at the limit is fine */
	c.offset = 0;
	CHECK_EQ_INT(lb_uploads_write(u, &c, buf, 64, &got, NULL, &err), 0);
	c.offset = 64;
	CHECK_EQ_INT(lb_uploads_write(u, &c, buf, 36, &got, NULL, &err), 0);
	CHECK_EQ_INT(got, 100);
	/* an offset alone beyond the limit (a lying client): refused */
	c = chunk_of("other", 1LL << 40, false);
	c.max_bytes = 100;
	CHECK_EQ_INT(lb_uploads_write(u, &c, buf, 1, &got, NULL, &err), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_TOO_LARGE);
	lb_uploads_destroy(&u);
}

/* Set a file's modification time to t ns since 1970. */
static void set_mtime(const char *path, int64_t t)
{
	struct timeval tv[2];

	tv[0].tv_sec = tv[1].tv_sec = (time_t)(t / 1000000000LL);
	tv[0].tv_usec = tv[1].tv_usec = 0;
	utimes(path, tv);
}

static void test_sweep(void)
{
	char dir[256], old[600], young[600];
	lb_error err = {0};
	lb_uploads *u;
	lb_upload_chunk c;
	int64_t hour = 3600LL * 1000000000LL, now = 1700000000LL * 1000000000LL;
	long long got;

	fresh_dir(dir, sizeof dir);
	u = lb_uploads_new(dir, hour, &err);
	if (!u) {
		CHECK(u != NULL);
		return;
	}
	c = chunk_of("old", 0, false);
	CHECK_EQ_INT(lb_uploads_write(u, &c, "ab", 2, &got, NULL, &err), 0);
	c = chunk_of("young", 0, false);
	CHECK_EQ_INT(lb_uploads_write(u, &c, "ab", 2, &got, NULL, &err), 0);
	lb_uploads_path(u, "old", old, sizeof old);
	lb_uploads_path(u, "young", young, sizeof young);
	set_mtime(old, now - 2 * hour);
	set_mtime(young, now - hour / 2);
	lb_uploads_sweep(u, now);
	CHECK_EQ_INT(file_size(old), -1);
	CHECK_EQ_INT(file_size(young), 2);
	/* a new upload's first chunk sweeps too */
	set_mtime(young, now - 2 * hour);
	c = chunk_of("new", 0, false);
	c.now_real = now;
	CHECK_EQ_INT(lb_uploads_write(u, &c, "ab", 2, &got, NULL, &err), 0);
	CHECK_EQ_INT(file_size(young), -1);
	lb_uploads_destroy(&u);
}

int main(void)
{
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_declarations);
	RUN(test_keys);
	RUN(test_chunks_and_resume);
	RUN(test_limit);
	RUN(test_sweep);
	if (check_nfail == 0) {
		char cmd[sizeof root + 16];
		snprintf(cmd, sizeof cmd, "rm -rf %s", root);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", root);
	}
	return check_summary();
}
