/* progress.h - a job's last acknowledged line in a small file that survives kill -9 (no SQLite). */
#ifndef LB_PROGRESS_H
#define LB_PROGRESS_H

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

/*
 * The printer's thread records every acknowledged position of a job by one pwrite of this fixed
 * record at offset 0 of the job's .progress file (jobs/<id>/.progress). Once pwrite returns the
 * kernel holds the data, so a crash or kill -9 of the bridge cannot lose it (a power cut can: the
 * queue folds the file into SQLite once a second). The check word tells a whole record from an
 * empty or foreign file.
 */
typedef struct lb_progress_rec {
	uint64_t magic;
	int64_t line;	/* 1-based line of the job file last acknowledged, 0 if none */
	int64_t offset; /* byte offset just after it */
	uint64_t check;
} lb_progress_rec;

#define LB_PROGRESS_MAGIC 0x6c62707267723031ULL /* "lbprgr01" */

/* The check word of a record. */
static inline uint64_t lb_progress_check(int64_t line, int64_t offset)
{
	return LB_PROGRESS_MAGIC ^ ((uint64_t)line * 0x9e3779b97f4a7c15ULL) ^
	       ((uint64_t)offset * 0xc2b2ae3d27d4eb4fULL);
}

/* Record line and offset in the open file fd; 0, or -1 with errno set (a short write: EIO). */
static inline int lb_progress_write(int fd, int64_t line, int64_t offset)
{
	lb_progress_rec r = {LB_PROGRESS_MAGIC, line, offset, lb_progress_check(line, offset)};
	ssize_t n = pwrite(fd, &r, sizeof r, 0);

	if (n == (ssize_t)sizeof r)
		return 0;
	if (n >= 0)
		errno = EIO;
	return -1;
}

/* Read the record of the open file fd into *line, *offset; 0, or -1 when there is no whole,
 * valid record (missing, empty, torn or foreign). */
static inline int lb_progress_read(int fd, int64_t *line, int64_t *offset)
{
	lb_progress_rec r;

	if (pread(fd, &r, sizeof r, 0) != (ssize_t)sizeof r || r.magic != LB_PROGRESS_MAGIC ||
	    r.line < 0 || r.offset < 0 || r.check != lb_progress_check(r.line, r.offset))
		return -1;
	*line = r.line;
	*offset = r.offset;
	return 0;
}

#endif
