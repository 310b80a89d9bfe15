/* upload.h - binary uploads for any method that declares them: chunked, checksummed, on disk. */
#ifndef LB_UPLOAD_H
#define LB_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../util/error.h"

/*
 * A method that takes uploads declares it once, next to its handler:
 *
 *	LB_UPLOAD_METHOD(print_upload, "print.upload", 4096LL << 20, "prints");
 *
 * (a linker section collects the declarations, as for drivers: no shared list to edit). Such a
 * method may carry one binary frame after its JSON frame (at most the request socket's limit,
 * 1 MiB); the bytes go to a part file in <data dir>/<subdir>/, never whole in memory, and a
 * chunk that would take the file over max_bytes is refused before anything is written.
 * upload.status {method, upload} tells a client that lost its connection where to go on.
 */
typedef struct lb_upload_decl {
	const char *method; /* "print.upload" */
	long long
	    max_bytes;	    /* the largest file the method ever accepts (its config may lower it) */
	const char *subdir; /* the part files' directory under the data directory */
} lb_upload_decl;

#define LB_UPLOAD_METHOD(tag, name, max, dir)                                                      \
	static const lb_upload_decl lb_upload_decl_##tag = {name, max, dir};                       \
	static const lb_upload_decl *lb_upload_ptr_##tag                                           \
	    __attribute__((section("lb_upload_list"), used, aligned(sizeof(void *)))) =            \
		&lb_upload_decl_##tag

/* The declaration of an upload method, or NULL when the method takes no binary frame. */
const lb_upload_decl *lb_upload_find(const char *method);

/* Whether a method may carry one binary frame (the server's only question about uploads). */
bool lb_upload_method(const char *method);

/* A directory of part files (one per upload in progress). */
typedef struct lb_uploads lb_uploads;

/*
 * Open the part directory dir (created with mode 0750 if missing); uploads untouched for
 * expiry_ns are abandoned (lb_uploads_sweep). NULL with err set (the directory cannot be made,
 * its name is too long, out of memory).
 */
lb_uploads *lb_uploads_new(const char *dir, int64_t expiry_ns, lb_error *err);

/* Close. Accepts NULL; nulls the pointer. */
void lb_uploads_destroy(lb_uploads **u);

/* The directory, as given to lb_uploads_new. */
const char *lb_uploads_dir(const lb_uploads *u);

/*
 * The key of an upload: "<owner>/<id>" into key[cap] (owner: the kernel-given identity of the
 * submitter, so that the same id from another user is another upload). 0, or LB_EINVAL when id
 * is empty, longer than 128 bytes, or the key does not fit.
 */
int lb_upload_key(const char *owner, const char *id, char *key, size_t cap);

/*
 * The part file of key into path[cap]: the key's characters outside [A-Za-z0-9._-] made '_' (64
 * kept at most), then a 64-bit FNV-1a hash of the whole key, so keys that sanitize equally still
 * get different files. 0, or LB_EINVAL when it does not fit.
 */
int lb_uploads_path(const lb_uploads *u, const char *key, char *path, size_t cap);

/* How many bytes of key arrived (0 when none): 0 with *offset, or LB_EFAIL with err set. */
int lb_uploads_status(const lb_uploads *u, const char *key, long long *offset, lb_error *err);

/* One chunk of an upload. */
typedef struct lb_upload_chunk {
	const char *key;     /* lb_upload_key */
	long long offset;    /* where the bytes go: the bytes received so far (or a repeat) */
	bool final;	     /* the last chunk: the file ends after it */
	bool has_crc;	     /* crc32 of this chunk's bytes is given */
	uint32_t crc32;	     /* zlib crc32 of the chunk */
	long long max_bytes; /* the method's limit for this upload (0: none) */
	int64_t now_real;    /* ns since 1970 (sweeps abandoned uploads at a start) */
} lb_upload_chunk;

/*
 * Take a chunk of len bytes. A chunk over max_bytes is refused (LB_ERR_TOO_LARGE) and the part
 * removed; a chunk whose crc32 does not match is refused with nothing written; an offset beyond
 * the bytes received is refused ("expected offset N"); a chunk already received is accepted again
 * without effect (a retry after a timeout is harmless); offset 0 with other bytes restarts the
 * upload; an empty chunk that is not final only asks how much arrived and makes no file. A failed
 * first chunk leaves no part file. *received: the bytes now in the part file.
 * The final chunk: the file is cut after it and synced; *fd (when fd is not NULL) receives an
 * open descriptor of the complete part, which the caller checks, moves (rename of
 * lb_uploads_path) or removes, then closes. 0, or LB_EFAIL with err set.
 */
int lb_uploads_write(lb_uploads *u, const lb_upload_chunk *c, const void *data, size_t len,
		     long long *received, int *fd, lb_error *err);

/* Remove the part file of key (an upload refused or finished elsewhere); best effort. */
void lb_uploads_discard(lb_uploads *u, const char *key);

/* Remove the part files untouched for the expiry at now_real; best effort, problems logged. */
void lb_uploads_sweep(lb_uploads *u, int64_t now_real);

/* The zlib crc32 of the first size bytes of fd, read in 64 KiB blocks: 0, or -1 with errno. */
int lb_upload_file_crc(int fd, long long size, uint32_t *crc);

#endif
