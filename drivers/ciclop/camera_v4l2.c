/* camera_v4l2.c - the 3D scanner's real camera: a UVC webcam through libv4l2 (RGB24 frames). */
#include <errno.h>
#include <fcntl.h>
#include <libv4l2.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../bridge/util/clock.h"
#include "camera.h"

#define FRAME_TIMEOUT_MS 2000 /* a webcam gives at least 5 frames per second */

typedef struct v4l2_cam {
	int fd;
	char path[256];
	int width, height, flush;
	size_t size; /* bytes of one RGB24 frame */
	uint8_t *buf;
} v4l2_cam;

/* Read one whole frame into c->buf, waiting at most FRAME_TIMEOUT_MS in all (poll, then read;
 * a read that would block polls again). 0 or LB_EFAIL with err. */
static int read_frame(v4l2_cam *c, lb_error *err)
{
	int left = FRAME_TIMEOUT_MS;

	while (left > 0) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int64_t t0 = lb_clock_ns(CLOCK_MONOTONIC);
		ssize_t n;
		int r = poll(&p, 1, left);
		left -= (int)((lb_clock_ns(CLOCK_MONOTONIC) - t0) / 1000000);
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0)
			continue;
		n = v4l2_read(c->fd, c->buf, c->size);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return lb_error_set(err, LB_ERR_DEVICE,
					    errno == ENODEV ? "camera missing: %s went away (%s)"
							    : "camera %s: %s",
					    c->path, strerror(errno));
		if ((size_t)n != c->size)
			return lb_error_set(
			    err, LB_ERR_DEVICE,
			    "camera %s: a frame of %zd bytes, %zu expected (%dx%d RGB)", c->path, n,
			    c->size, c->width, c->height);
		return 0;
	}
	return lb_error_set(err, LB_ERR_DEVICE, "the camera %s gives no frames (%d s)", c->path,
			    FRAME_TIMEOUT_MS / 1000);
}

/* Drop the frames buffered before now, then take the next one (time is when it was read). */
static int v4l2_grab(void *impl, double now_ms, ciclop_raw *raw, lb_error *err)
{
	v4l2_cam *c = impl;

	(void)now_ms; /* frames are taken when asked for: the flushed ones were older */
	for (int i = 0; i <= c->flush; i++)
		if (read_frame(c, err) < 0)
			return LB_EFAIL;
	raw->width = c->width, raw->height = c->height, raw->channels = 3;
	raw->data = c->buf;
	return 0;
}

/* Close the camera. */
static void v4l2_close_cam(void *impl)
{
	v4l2_cam *c = impl;

	if (c->fd >= 0)
		v4l2_close(c->fd);
	free(c->buf), free(c);
}

static const ciclop_source_ops v4l2_ops = {"v4l2", v4l2_grab, v4l2_close_cam};

ciclop_source *ciclop_source_v4l2(const char *path, int width, int height, int flush, lb_error *err)
{
	struct v4l2_capability cap;
	struct v4l2_format fmt;
	struct stat st;
	v4l2_cam *c = calloc(1, sizeof *c);

	if (!c) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	c->fd = -1;
	c->flush = flush < 0 ? 0 : flush > 10 ? 10 : flush;
	snprintf(c->path, sizeof c->path, "%s", path);
	if (stat(path, &st) < 0) {
		lb_error_set(err, LB_ERR_DEVICE, "camera missing: %s %s", path,
			     errno == ENOENT ? "does not exist" : strerror(errno));
		goto fail;
	}
	if ((c->fd = v4l2_open(path, O_RDWR | O_NONBLOCK)) < 0) {
		lb_error_set(err, LB_ERR_DEVICE, "camera %s: %s", path, strerror(errno));
		goto fail;
	}
	if (v4l2_ioctl(c->fd, VIDIOC_QUERYCAP, &cap) < 0 ||
	    !(cap.capabilities & V4L2_CAP_VIDEO_CAPTURE)) {
		lb_error_set(err, LB_ERR_DEVICE, "camera missing: %s is not a video capture device",
			     path);
		goto fail;
	}
	memset(&fmt, 0, sizeof fmt);
	fmt.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	fmt.fmt.pix.width = (unsigned)width;
	fmt.fmt.pix.height = (unsigned)height;
	fmt.fmt.pix.pixelformat = V4L2_PIX_FMT_RGB24; /* libv4l2 converts YUYV, MJPEG... */
	fmt.fmt.pix.field = V4L2_FIELD_NONE;
	if (v4l2_ioctl(c->fd, VIDIOC_S_FMT, &fmt) < 0 ||
	    fmt.fmt.pix.pixelformat != V4L2_PIX_FMT_RGB24) {
		lb_error_set(err, LB_ERR_DEVICE, "camera %s: cannot give RGB frames (%s)", path,
			     strerror(errno));
		goto fail;
	}
	/* the size it chose: a different one is caught at each grab ("wrong size") */
	c->width = (int)fmt.fmt.pix.width, c->height = (int)fmt.fmt.pix.height;
	c->size = (size_t)c->width * c->height * 3;
	if (!(c->buf = malloc(c->size))) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		goto fail;
	}
	return ciclop_source_new(&v4l2_ops, c, width, height, err);
fail:
	v4l2_close_cam(c);
	return NULL;
}
