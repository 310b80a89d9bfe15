/* slicing.c - the slicing stage of model jobs: fit check (prusa-slicer --info), then slicing. */
#include "slicing.h"

#include <errno.h>
#include <pthread.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../util/fsutil.h"
#include "../../util/log.h"
#include "../../util/thread.h"
#include "gcheck.h"
#include "mcheck.h"
#include "thumb.h"

#define SL_WORK ".slice" /* the job's slicing folder (a dot: the store's temporary files) */

/* One job being sliced: its --info run, then its slicing run. */
typedef struct sl_job {
	long long id;
	long long run; /* the runner's id of its current run */
	int slicing;   /* 0: --info (the fit check), 1: slicing */
	char work[LB_SLICER_PATH - 32], model[LB_SLICER_PATH], ini[LB_SLICER_PATH];
	char label[128];
	double bed_x, bed_y, max_z;
	double scale, rotate;
	int percent; /* last reported */
	char stage[64];
	json_t *extra; /* the model's facts, from --info */
	/* once sliced: its G-code checked, then drawn, on the post thread */
	int post; /* a post_stage: 0 while slicing */
	char gcode[LB_SLICER_PATH];
	gcode_policy policy;
	int thumb_w, thumb_h;
	json_t *meta;		    /* POST_CHECKED: the G-code's facts, or NULL: refused (perr) */
	char thumb[LB_SLICER_PATH]; /* POST_DRAWN: the picture, "" when none */
	lb_error perr;
} sl_job;

struct lb_slicing {
	lb_slicer_worker *w;
	lb_slicing_opts opts;
	char program[LB_SLICER_PATH];
	sl_job *v;
	size_t n, cap;
	long long *dead; /* runs cancelled while running: forgotten once reaped */
	size_t ndead, capdead;
	/* the post thread: checks sliced G-code and draws it, off the caller's loop; lock guards
	 * v, n and the entries' post fields against it */
	pthread_t post;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool post_started, stop;
};

/* Where a sliced job is after its slicer (sl_job.post). */
enum post_stage {
	POST_NONE,     /* slicing */
	POST_SLICED,   /* its G-code waits for the post thread's check */
	POST_CHECKING, /* taken by the post thread */
	POST_CHECKED,  /* checked: DONE (or FAILED) to report */
	POST_TO_DRAW,  /* DONE reported: its picture waits for the post thread */
	POST_DRAWING,  /* taken by the post thread */
	POST_DRAWN,    /* drawn: PICTURE to report */
};

/* The G-code's second name in the job's slicing folder, which the picture is drawn from (the
 * receiver of DONE moves the G-code itself away). */
#define SL_DRAW_SRC "draw.gcode"

/* The job's entry, or NULL. */
static sl_job *find(lb_slicing *sl, long long id, size_t *at)
{
	for (size_t i = 0; i < sl->n; i++)
		if (sl->v[i].id == id) {
			if (at)
				*at = i;
			return &sl->v[i];
		}
	return NULL;
}

/* The post thread's next work, the lock held: a job to check (first: checks let jobs into the
 * queue), else one to draw; NULL when there is none. */
static sl_job *post_next(lb_slicing *sl)
{
	for (size_t i = 0; i < sl->n; i++)
		if (sl->v[i].post == POST_SLICED)
			return &sl->v[i];
	for (size_t i = 0; i < sl->n; i++)
		if (sl->v[i].post == POST_TO_DRAW)
			return &sl->v[i];
	return NULL;
}

/* Check job c's G-code against its policy: its facts into *meta (NULL and err set: refused).
 * When it passes and a picture is wanted, the G-code gets its second name to draw from; 1 then,
 * 0 when no picture will come. */
static int post_check(sl_job *c, json_t **meta, lb_error *err)
{
	char src[LB_SLICER_PATH + 16];

	*meta = NULL;
	if (lb_gcode_check_file(&c->policy, c->gcode, meta, err) < 0 || c->thumb_w <= 0)
		return 0;
	snprintf(src, sizeof src, "%s/" SL_DRAW_SRC, c->work);
	unlink(src);
	if (link(c->gcode, src) < 0) {
		lb_warn("slicing: job %lld: no picture: cannot link its G-code: %s", c->id,
			strerror(errno));
		return 0;
	}
	return 1;
}

/* Draw job c's picture from its G-code's second name into png[cap] ("" when it fails: said). */
static void post_draw(const sl_job *c, char *png, size_t cap)
{
	char src[LB_SLICER_PATH + 16];
	lb_error err;

	snprintf(src, sizeof src, "%s/" SL_DRAW_SRC, c->work);
	snprintf(png, cap, "%s/thumb.png", c->work);
	if (lb_gcode_thumbnail(src, png, c->thumb_w, c->thumb_h, &err) < 0) {
		lb_warn("slicing: job %lld: no picture: %s", c->id, err.message);
		png[0] = '\0';
	}
	unlink(src);
}

/* The post thread: for each job sliced, its G-code through the check (the job's policy), the
 * results into the entry (POST_CHECKED) and the caller woken through the runner's notification;
 * then, once DONE was reported, its picture drawn (POST_DRAWN) and the caller woken again. An
 * entry cancelled meanwhile just loses them. */
static void *post_main(void *arg)
{
	lb_slicing *sl = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&sl->lock);
	while (!sl->stop) {
		sl_job *j = post_next(sl), c;
		json_t *meta = NULL;
		lb_error err = {0};
		char png[LB_SLICER_PATH] = "";
		int taken, draw = 0;

		if (!j) {
			pthread_cond_wait(&sl->cond, &sl->lock);
			continue;
		}
		c = *j; /* its id and paths: the entry may move while the lock is free */
		taken = j->post = j->post == POST_SLICED ? POST_CHECKING : POST_DRAWING;
		pthread_mutex_unlock(&sl->lock);
		if (taken == POST_CHECKING)
			draw = post_check(&c, &meta, &err);
		else
			post_draw(&c, png, sizeof png);
		pthread_mutex_lock(&sl->lock);
		j = find(sl, c.id, NULL);
		if (j && j->post == taken) {
			if (taken == POST_CHECKING) {
				j->meta = meta;
				j->perr = err;
				j->thumb_w = draw ? j->thumb_w : 0;
				j->post = POST_CHECKED;
				meta = NULL;
			} else {
				snprintf(j->thumb, sizeof j->thumb, "%s", png);
				j->post = POST_DRAWN;
			}
			if (write(lb_slicer_worker_fd(sl->w), &one, sizeof one) < 0)
				lb_warn("slicing: cannot wake the bridge: %s", strerror(errno));
		}
		json_decref(meta);
	}
	pthread_mutex_unlock(&sl->lock);
	return NULL;
}

lb_slicing *lb_slicing_new(const lb_slicing_opts *opts, lb_error *err)
{
	lb_slicing *sl = calloc(1, sizeof *sl);

	if (!sl) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	if (opts)
		sl->opts = *opts;
	snprintf(sl->program, sizeof sl->program, "%s",
		 opts && opts->program ? opts->program : "prusa-slicer");
	sl->opts.program = sl->program;
	pthread_mutex_init(&sl->lock, NULL);
	pthread_cond_init(&sl->cond, NULL);
	sl->w = lb_slicer_worker_new(sl->opts.max, err);
	if (!sl->w)
		goto fail;
	if (lb_thread_start(&sl->post, post_main, sl) != 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot start the slicing's thread");
		goto fail;
	}
	sl->post_started = true;
	return sl;
fail:
	lb_slicing_destroy(&sl);
	return NULL;
}

/* Forget job i (its run already ended or cancelled): its facts freed, its folder kept. */
static void drop(lb_slicing *sl, size_t i)
{
	json_decref(sl->v[i].extra);
	json_decref(sl->v[i].meta);
	sl->v[i] = sl->v[--sl->n];
}

void lb_slicing_destroy(lb_slicing **p)
{
	if (!p || !*p)
		return;
	if ((*p)->post_started) {
		pthread_mutex_lock(&(*p)->lock);
		(*p)->stop = true;
		pthread_cond_signal(&(*p)->cond);
		pthread_mutex_unlock(&(*p)->lock);
		pthread_join((*p)->post, NULL);
	}
	lb_slicer_worker_destroy(&(*p)->w);
	while ((*p)->n)
		drop(*p, 0);
	free((*p)->v);
	free((*p)->dead);
	pthread_mutex_destroy(&(*p)->lock);
	pthread_cond_destroy(&(*p)->cond);
	free(*p);
	*p = NULL;
}

int lb_slicing_fd(const lb_slicing *sl)
{
	return sl ? lb_slicer_worker_fd(sl->w) : -1;
}

/* Queue a run of the slicer for job j (info: the --info run): 0, or LB_EFAIL with err. */
static int submit(lb_slicing *sl, sl_job *j, bool info, lb_error *err)
{
	lb_slice_spec spec = {0};
	char scale[32], rotate[32];
	int a = 0;
	long long run;

	spec.program = sl->opts.program;
	spec.model = j->model;
	spec.workdir = j->work;
	spec.time_s = sl->opts.time_s;
	spec.cpu_s = sl->opts.cpu_s;
	spec.mem_mb = sl->opts.mem_mb;
	spec.info = info;
	if (!info) {
		spec.args[a++] = "--load";
		spec.args[a++] = j->ini;
		if (j->scale > 0 && fabs(j->scale - 100.0) > 1e-9) {
			snprintf(scale, sizeof scale, "%.4g%%", j->scale);
			spec.args[a++] = "--scale";
			spec.args[a++] = scale;
		}
		if (fmod(fabs(j->rotate), 360.0) > 1e-9) {
			snprintf(rotate, sizeof rotate, "%.6g", j->rotate);
			spec.args[a++] = "--rotate";
			spec.args[a++] = rotate;
		}
	}
	spec.args[a] = NULL;
	run = lb_slicer_worker_submit(sl->w, &spec, err);
	if (run < 0)
		return LB_EFAIL;
	j->run = run;
	j->slicing = !info;
	return 0;
}

/*
 * The model's size as it will be printed (scaled, turned about Z: the footprint's bounding box)
 * checked against the bed; when it fits only turned by a further 90 degrees, j->rotate gets them.
 * 0, or LB_EFAIL with err (the size, the bed, a guess at inches or metres).
 */
static int fit(sl_job *j, const model_info *raw, lb_error *err)
{
	lb_printer_profile pr = {0};
	double k = j->scale / 100.0, a = j->rotate * M_PI / 180.0;
	double w = raw->size[0] * k, d = raw->size[1] * k, sx, sy;
	int turn90 = 0;

	pr.label = j->label;
	pr.bed_x = j->bed_x;
	pr.bed_y = j->bed_y;
	pr.max_z = j->max_z;
	if (lb_profile_check_fit_ex(&pr, raw, j->scale, j->rotate, &turn90, err) < 0)
		return LB_EFAIL;
	sx = fabs(w * cos(a)) + fabs(d * sin(a));
	sy = fabs(w * sin(a)) + fabs(d * cos(a));
	if (turn90) {
		double t = sx;
		sx = sy;
		sy = t;
		j->rotate +=
		    90.0; /* it fits turned: the slicer must turn it (it does not itself) */
		json_object_set_new(j->extra, "turned", json_true());
	}
	json_object_set_new(j->extra, "size_mm",
			    json_pack("[f,f,f]", round(sx * 10) / 10, round(sy * 10) / 10,
				      round(raw->size[2] * k * 10) / 10));
	return 0;
}

/* The --info run of j ended well: its facts, the fit check, then the slicing run queued. 0, or
 * LB_EFAIL with err (why the job fails). */
static int info_done(lb_slicing *sl, sl_job *j, lb_error *err)
{
	char out[LB_SLICER_TAIL + 1];
	model_info mi;

	if (lb_slicer_worker_output(sl->w, j->run, out, sizeof out) < 0 ||
	    model_info_parse(out, strlen(out), &mi) < 0)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "the slicer could not read the model's size: the file is "
				    "damaged or empty");
	json_decref(j->extra);
	j->extra = json_pack("{s:[f,f,f],s:I}", "model_mm", mi.size[0], mi.size[1], mi.size[2],
			     "facets", (json_int_t)mi.facets);
	if (mi.manifold >= 0)
		json_object_set_new(j->extra, "manifold", json_boolean(mi.manifold));
	if (mi.manifold == 0)
		lb_info("slicing: job %lld: the mesh is not closed: the slicer repairs what it can",
			j->id);
	if (fit(j, &mi, err) < 0)
		return LB_EFAIL;
	lb_slicer_worker_forget(sl->w, j->run);
	return submit(sl, j, false, err);
}

/*
 * Give the binary STL at input to the slicer as path. PrusaSlicer's STL reader (admesh) takes a
 * binary STL for ASCII, and fails, when none of the 128 bytes after its 80-byte header is above
 * 127 (whole-millimetre coordinates and zero normals do that); such a file gets a copy whose
 * first normal's x is -0.0 (its sign bit: a byte of 0x80), which the slicer recomputes anyway.
 * Any other: a hard link. 0, or -1 with errno set.
 */
static int stl_for_admesh(const char *input, const char *path)
{
	unsigned char head[84 + 128], buf[65536];
	FILE *in = fopen(input, "rb"), *out = NULL;
	size_t n = in ? fread(head, 1, sizeof head, in) : 0;
	bool ascii_looking = n > 84;
	int rc = -1, e;

	for (size_t i = 80; i < n; i++)
		ascii_looking &= head[i] <= 127;
	if (!in || !ascii_looking) {
		if (in)
			fclose(in);
		return link(input, path);
	}
	head[84 + 3] = 0x80; /* little-endian float: its last byte holds the sign */
	out = fopen(path, "wbx");
	if (!out || fwrite(head, 1, n, out) != n)
		goto done;
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			goto done;
	rc = ferror(in) ? -1 : 0;
done:
	e = errno;
	fclose(in);
	if (out && fclose(out) != 0)
		rc = -1;
	errno = e;
	return rc;
}

int lb_slicing_start(lb_slicing *sl, lb_printq *q, const lb_slicing_job *job, lb_error *err)
{
	lb_jobs *store = lb_printq_store(q);
	json_t *sj;
	const char *fmt;
	char folder[LB_SLICER_PATH - 64], input[LB_SLICER_PATH]; /* folder + "/.slice" fits work */
	sl_job j = {0};
	model_format mf;

	if (!sl || !job || !job->printer || !job->preset)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "invalid slicing arguments");
	lb_slicing_cancel(sl, job->id, 0);
	j.policy = job->policy;
	j.thumb_w = job->thumb_w;
	j.thumb_h = job->thumb_h;
	sj = lb_jobs_get(store, job->id);
	fmt = json_string_value(json_object_get(json_object_get(sj, "params"), "model"));
	if (!fmt) {
		json_decref(sj);
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "job %lld is not a model job",
				    job->id);
	}
	json_decref(sj);
	if (lb_jobs_folder(store, job->id, folder, sizeof folder, err) < 0 ||
	    lb_jobs_input_path(store, job->id, input, sizeof input) < 0)
		return LB_EFAIL;
	mf = lb_printq_sniff(input);
	if (mf == MODEL_NONE)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "job %lld: its model file is missing", job->id);
	j.id = job->id;
	snprintf(j.work, sizeof j.work, "%s/" SL_WORK, folder);
	snprintf(j.model, sizeof j.model, "%s/model.%s", j.work, lb_model_format_ext(mf));
	snprintf(j.ini, sizeof j.ini, "%s/profile.ini", j.work);
	/* a slicing cut short (a restart, a retry) starts from an empty folder */
	if (lb_rmtree(j.work) < 0 || mkdir(j.work, 0700) < 0 ||
	    (mf == MODEL_STL_BINARY ? stl_for_admesh(input, j.model) : link(input, j.model)) < 0)
		return lb_error_set(err, LB_ERR_INTERNAL, "job %lld: cannot prepare %s: %s",
				    job->id, j.work, strerror(errno));
	if (lb_profile_write_ini(job->printer, job->preset, j.ini, err) < 0)
		return LB_EFAIL;
	snprintf(j.label, sizeof j.label, "%s", job->printer->label);
	j.bed_x = job->printer->bed_x;
	j.bed_y = job->printer->bed_y;
	j.max_z = job->printer->max_z;
	j.scale = job->scale > 0 ? job->scale : 100.0;
	j.rotate = job->rotate;
	j.percent = -1;
	pthread_mutex_lock(&sl->lock);
	if (sl->n == sl->cap) {
		size_t cap = sl->cap ? 2 * sl->cap : 8;
		sl_job *v = realloc(sl->v, cap * sizeof *v);
		if (!v) {
			pthread_mutex_unlock(&sl->lock);
			return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		}
		sl->v = v;
		sl->cap = cap;
	}
	if (job->size) {
		/* measured at upload: no --info run (it costs as much as slicing a small model) */
		j.extra = json_object();
		if (fit(&j, job->size, err) < 0 || submit(sl, &j, false, err) < 0) {
			json_decref(j.extra);
			pthread_mutex_unlock(&sl->lock);
			return LB_EFAIL;
		}
	} else if (submit(sl, &j, true, err) < 0) {
		pthread_mutex_unlock(&sl->lock);
		return LB_EFAIL;
	}
	sl->v[sl->n++] = j;
	pthread_mutex_unlock(&sl->lock);
	return 0;
}

/* Take the bridge's folder work out of a message ("/var/lib/.../.slice/model.stl" becomes
 * "model.stl"): it is nobody's business. */
static void hide_folder(char *msg, const char *work)
{
	size_t n = strlen(work);
	char *p;

	while (n && (p = strstr(msg, work)) != NULL) {
		size_t cut = n + (p[n] == '/');
		memmove(p, p + cut, strlen(p + cut) + 1);
	}
}

/* A slicer's stage as people should see it: "Exporting G-code to /path/out.gcode" loses its
 * path (the bridge's folders are nobody's business). */
static void stage_name(char *stage)
{
	char *to = strstr(stage, " to /");

	if (to)
		*to = '\0';
}

/* lb_slicing_next, the lock held. */
static int next_locked(lb_slicing *sl, lb_slicing_event *ev)
{
	uint64_t v;

	/* the worker's eventfd: cleared first, so a change after this read wakes the loop again */
	if (read(lb_slicer_worker_fd(sl->w), &v, sizeof v) < 0 && errno != EAGAIN)
		lb_warn("slicing: cannot read the slicers' notification: %s", strerror(errno));
	for (size_t i = 0; i < sl->ndead;)
		if (lb_slicer_worker_forget(sl->w, sl->dead[i]) == 0)
			sl->dead[i] = sl->dead[--sl->ndead];
		else
			i++;
	for (size_t i = 0; i < sl->n; i++) {
		sl_job *j = &sl->v[i];
		lb_slice_status st;

		memset(ev, 0, sizeof *ev);
		ev->id = j->id;
		snprintf(ev->work, sizeof ev->work, "%s", j->work);
		if (j->post == POST_SLICED || j->post == POST_CHECKING || j->post == POST_TO_DRAW ||
		    j->post == POST_DRAWING)
			continue; /* on the post thread */
		if (j->post == POST_CHECKED && !j->meta) {
			ev->what = LB_SLICING_FAILED;
			lb_error_set(&ev->error, j->perr.code ? j->perr.code : LB_ERR_INTERNAL,
				     "the sliced G-code was refused: %s", j->perr.message);
			drop(sl, i);
			return 1;
		}
		if (j->post == POST_CHECKED) {
			ev->what = LB_SLICING_DONE;
			ev->percent = 100;
			snprintf(ev->gcode, sizeof ev->gcode, "%s", j->gcode);
			ev->meta = j->meta;
			ev->extra = j->extra;
			j->meta = j->extra = NULL;
			ev->drawing = j->thumb_w > 0;
			if (!ev->drawing) {
				drop(sl, i);
				return 1;
			}
			/* its picture next, on the post thread: the folder stays until then */
			ev->work[0] = '\0';
			j->post = POST_TO_DRAW;
			pthread_cond_signal(&sl->cond);
			return 1;
		}
		if (j->post == POST_DRAWN) {
			ev->what = LB_SLICING_PICTURE;
			snprintf(ev->thumb, sizeof ev->thumb, "%s", j->thumb);
			drop(sl, i);
			return 1;
		}
		if (lb_slicer_worker_status(sl->w, j->run, &st) < 0) {
			ev->what = LB_SLICING_FAILED;
			lb_error_set(&ev->error, LB_ERR_INTERNAL, "the slicing run was lost");
			drop(sl, i);
			return 1;
		}
		if (st.state == LB_SLICE_DONE && !j->slicing) {
			if (info_done(sl, j, &ev->error) == 0) {
				i--; /* look at it again: its slicing may report at once */
				continue;
			}
			lb_slicer_worker_forget(sl->w, j->run);
			ev->what = LB_SLICING_FAILED;
			drop(sl, i);
			return 1;
		}
		if (st.state == LB_SLICE_DONE) {
			/* sliced: its G-code to the post thread, reported once checked */
			snprintf(j->gcode, sizeof j->gcode, "%s", st.gcode);
			lb_slicer_worker_forget(sl->w, j->run);
			j->post = POST_SLICED;
			pthread_cond_signal(&sl->cond);
			continue;
		}
		if (st.state == LB_SLICE_FAILED || st.state == LB_SLICE_CANCELLED) {
			ev->what = LB_SLICING_FAILED;
			ev->error = st.error;
			hide_folder(ev->error.message, j->work);
			if (strstr(ev->error.message, "Loading of a model file failed"))
				lb_error_set(&ev->error, LB_ERR_INVALID_PARAMS,
					     "the slicer could not read the model: the file is "
					     "damaged, empty or not a model it knows (PrusaSlicer: "
					     "Loading of a model file failed)");
			lb_slicer_worker_forget(sl->w, j->run);
			drop(sl, i);
			return 1;
		}
		/* running or waiting: report a move of the slicing's progress */
		stage_name(st.stage);
		if (j->slicing && (st.percent != j->percent || strcmp(st.stage, j->stage) != 0)) {
			j->percent = st.percent;
			snprintf(j->stage, sizeof j->stage, "%s", st.stage);
			stage_name(j->stage);
			ev->what = LB_SLICING_PROGRESS;
			ev->percent = st.percent;
			snprintf(ev->stage, sizeof ev->stage, "%s", st.stage);
			return 1;
		}
	}
	return 0;
}

int lb_slicing_next(lb_slicing *sl, int64_t now, lb_slicing_event *ev)
{
	int rc;

	(void)now;
	if (!sl || !ev)
		return 0;
	pthread_mutex_lock(&sl->lock);
	rc = next_locked(sl, ev);
	pthread_mutex_unlock(&sl->lock);
	return rc;
}

/* lb_slicing_cancel, the lock held. */
static int cancel_locked(lb_slicing *sl, long long id, int64_t now)
{
	size_t i;
	sl_job *j = find(sl, id, &i);

	if (!j)
		return LB_EINVAL;
	if (j->post) { /* sliced already: its results, when they come, are dropped */
		drop(sl, i);
		return 0;
	}
	lb_slicer_worker_cancel(sl->w, j->run, now);
	/* refused while it runs: forgotten by lb_slicing_next once reaped */
	if (lb_slicer_worker_forget(sl->w, j->run) < 0) {
		if (sl->ndead == sl->capdead) {
			size_t cap = sl->capdead ? 2 * sl->capdead : 8;
			long long *d = realloc(sl->dead, cap * sizeof *d);
			if (d) {
				sl->dead = d;
				sl->capdead = cap;
			}
		}
		if (sl->ndead < sl->capdead)
			sl->dead[sl->ndead++] = j->run;
	}
	drop(sl, i);
	return 0;
}

int lb_slicing_cancel(lb_slicing *sl, long long id, int64_t now)
{
	int rc;

	if (!sl)
		return LB_EINVAL;
	pthread_mutex_lock(&sl->lock);
	rc = cancel_locked(sl, id, now);
	pthread_mutex_unlock(&sl->lock);
	return rc;
}

json_t *lb_slicing_status(lb_slicing *sl, long long id)
{
	sl_job *j;
	lb_slice_status st;
	json_t *o = NULL;

	if (!sl)
		return NULL;
	pthread_mutex_lock(&sl->lock);
	j = find(sl, id, NULL);
	if (j && j->post >= POST_TO_DRAW)
		o = NULL; /* sliced: only its picture is being drawn */
	else if (j && j->post)
		o = json_pack("{s:i,s:s,s:i}", "percent", 100, "stage", "checking the G-code",
			      "position", 0);
	else if (j && lb_slicer_worker_status(sl->w, j->run, &st) == 0) {
		stage_name(st.stage);
		o = json_pack("{s:i,s:s,s:i}", "percent", j->slicing ? st.percent : 0, "stage",
			      j->slicing ? st.stage : "checking the model", "position",
			      st.state == LB_SLICE_QUEUED ? st.position : 0);
	}
	pthread_mutex_unlock(&sl->lock);
	return o;
}

bool lb_slicing_drawing(lb_slicing *sl, long long id)
{
	sl_job *j;
	bool drawing;

	if (!sl)
		return false;
	pthread_mutex_lock(&sl->lock);
	j = find(sl, id, NULL);
	drawing = j && j->post >= POST_TO_DRAW;
	pthread_mutex_unlock(&sl->lock);
	return drawing;
}
