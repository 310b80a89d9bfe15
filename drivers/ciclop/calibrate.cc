/* calibrate.cc - a 3D scanner's calibration from a chessboard on the turntable, with Debian's
 * OpenCV (core, imgproc, calib3d); every exception caught at the C interface (calibrate.h). */
#include "calibrate.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <new>
#include <opencv2/calib3d.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <thread>
#include <vector>

#define VIEWS_MAX 64

// One table angle: the laser-off frame, the chessboard's corners when found, each laser's line.
// given, angle, off and cols are the caller's; found and corners the worker's until checked.
struct calib_view {
	bool given = false, checked = false, found = false;
	double angle = 0;
	std::vector<uint8_t> off;
	std::vector<cv::Point2f> corners;
	std::vector<float> cols[CICLOP_LASERS_MAX];
};

// The chessboard search (findChessboardCorners can take seconds on a frame where it fails) runs
// in a worker thread of the calibrator's, so that the caller's thread is never held by it.
struct ciclop_calibrator {
	ciclop_pattern pat;
	int width, height, nlasers;
	std::vector<calib_view> views;
	std::mutex lock; // guards queue, stop, checked, found, and views' checked/found/corners
	std::condition_variable wake, idle;
	std::deque<int> queue; // views to search
	bool stop = false;
	int pending = 0, checked = 0, found = 0;
	std::thread worker;
};

static void work(ciclop_calibrator *c);

// The pattern's inner corners in its own frame (mm, z = 0), row by row.
static std::vector<cv::Point3f> object_points(const ciclop_pattern &p)
{
	std::vector<cv::Point3f> o;
	for (int j = 0; j < p.rows; j++)
		for (int i = 0; i < p.cols; i++)
			o.emplace_back((float)(i * p.square), (float)(j * p.square), 0.f);
	return o;
}

// A plane fitted to pts (n . p = d, |n| = 1, d >= 0) by the SVD of the centred points; the RMS
// distance into *rms. False when fewer than 3 points.
static bool fit_plane(const std::vector<cv::Vec3d> &pts, cv::Vec3d &n, double &d, double &rms)
{
	if (pts.size() < 3)
		return false;
	cv::Vec3d c(0, 0, 0);
	for (const auto &p : pts)
		c += p;
	c *= 1.0 / (double)pts.size();
	cv::Mat A((int)pts.size(), 3, CV_64F);
	for (int i = 0; i < (int)pts.size(); i++)
		for (int k = 0; k < 3; k++)
			A.at<double>(i, k) = pts[(size_t)i][k] - c[k];
	cv::SVD svd(A, cv::SVD::MODIFY_A);
	n = cv::Vec3d(svd.vt.at<double>(2, 0), svd.vt.at<double>(2, 1), svd.vt.at<double>(2, 2));
	n *= 1.0 / cv::norm(n);
	d = n.dot(c);
	if (d < 0)
		n = -n, d = -d;
	double s = 0;
	for (const auto &p : pts)
		s += (n.dot(p) - d) * (n.dot(p) - d);
	rms = sqrt(s / (double)pts.size());
	return true;
}

// Rotation by angle a (radians) about the unit axis u: R.
static cv::Matx33d axis_rotation(const cv::Vec3d &u, double a)
{
	cv::Matx33d R;
	cv::Rodrigues(cv::Vec3d(u * a), R);
	return R;
}

// The fit itself; may throw (the caller catches). 0, or LB_EFAIL with err.
static int solve_cpp(ciclop_calibrator *c, ciclop_calib *out, ciclop_calib_report *rep,
		     lb_error *err)
{
	const ciclop_pattern &P = c->pat;
	std::vector<std::vector<cv::Point3f>> obj;
	std::vector<std::vector<cv::Point2f>> img;
	std::vector<int> idx; // views used
	int given = 0;

	memset(rep, 0, sizeof *rep);
	for (int i = 0; i < (int)c->views.size(); i++) {
		const calib_view &v = c->views[(size_t)i];
		if (!v.given)
			continue;
		given++;
		if (!v.found)
			continue;
		obj.push_back(object_points(P));
		img.push_back(v.corners);
		idx.push_back(i);
	}
	rep->views = given, rep->found = (int)idx.size(), rep->nlasers = c->nlasers;
	if (given == 0)
		return lb_error_set(err, LB_ERR_DEVICE, "no calibration frames were taken");
	if ((int)idx.size() < 3 || 3 * (int)idx.size() < 2 * given)
		return lb_error_set(err, LB_ERR_DEVICE,
				    "no chessboard found in %d of %d frames (light, focus, pattern "
				    "in view? a %dx%d inner-corner pattern?)",
				    given - (int)idx.size(), given, P.cols, P.rows);

	// intrinsics and distortion
	cv::Mat K, D;
	std::vector<cv::Mat> rv, tv;
	rep->reproj_px = cv::calibrateCamera(obj, img, cv::Size(c->width, c->height), K, D, rv, tv,
					     cv::CALIB_FIX_K3);
	if (!(rep->reproj_px < 2.0))
		return lb_error_set(err, LB_ERR_DEVICE,
				    "the camera's fit is poor (reprojection error %.2f px): a "
				    "flat, sharp pattern in view at every angle?",
				    rep->reproj_px);
	ciclop_camera cam;
	memset(&cam, 0, sizeof cam);
	cam.width = c->width, cam.height = c->height;
	cam.fx = K.at<double>(0, 0), cam.fy = K.at<double>(1, 1);
	cam.cx = K.at<double>(0, 2), cam.cy = K.at<double>(1, 2);
	for (int k = 0; k < 5; k++)
		cam.k[k] = k < (int)D.total() ? D.at<double>(k) : 0;

	// the pattern's pose per view (camera from pattern)
	std::vector<cv::Matx33d> Rs;
	std::vector<cv::Vec3d> ts;
	for (size_t k = 0; k < idx.size(); k++) {
		cv::Mat r = rv[k].clone(), t = tv[k].clone(), Rm;
		cv::solvePnP(obj[k], img[k], K, D, r, t, true, cv::SOLVEPNP_ITERATIVE);
		cv::Rodrigues(r, Rm);
		Rs.emplace_back(Rm);
		ts.emplace_back(t.at<double>(0), t.at<double>(1), t.at<double>(2));
	}

	// laser planes: the line's pixels on the squares, onto the pattern's plane
	ciclop_plane planes[CICLOP_LASERS_MAX];
	for (int l = 0; l < c->nlasers; l++) {
		std::vector<cv::Vec3d> pts;
		int views_with = 0;
		for (size_t k = 0; k < idx.size(); k++) {
			const calib_view &v = c->views[(size_t)idx[k]];
			const std::vector<float> &cols = v.cols[l];
			cv::Vec3d n(Rs[k](0, 2), Rs[k](1, 2), Rs[k](2, 2));
			double d = n.dot(ts[k]);
			size_t before = pts.size();
			for (int row = 0; row < (int)cols.size(); row++) {
				double r[3];
				if (cols[(size_t)row] < 0)
					continue;
				ciclop_pixel_ray(&cam, cols[(size_t)row], row, r);
				cv::Vec3d ray(r[0], r[1], r[2]);
				double den = n.dot(ray);
				if (fabs(den) < 1e-9 || d / den <= 0)
					continue;
				cv::Vec3d p = ray * (d / den);
				cv::Vec3d q = Rs[k].t() * (p - ts[k]); // pattern frame
				if (q[0] < -0.5 * P.square || q[0] > (P.cols - 0.5) * P.square ||
				    q[1] < -0.5 * P.square || q[1] > (P.rows - 0.5) * P.square)
					continue;
				pts.push_back(p);
			}
			views_with += pts.size() - before >= 10;
		}
		cv::Vec3d n;
		double d, rms;
		if (views_with < 2 || pts.size() < 30 || !fit_plane(pts, n, d, rms))
			return lb_error_set(err, LB_ERR_DEVICE,
					    "laser %d: laser line not found on the pattern (%d "
					    "views show it; is the laser on and aimed at the "
					    "pattern? too much light?)",
					    l + 1, views_with);
		// one pass without the points beyond 3 RMS (a reflection, the plate's edge)
		std::vector<cv::Vec3d> keep;
		for (const auto &p : pts)
			if (fabs(n.dot(p) - d) <= 3 * rms + 1e-6)
				keep.push_back(p);
		if (!fit_plane(keep, n, d, rms))
			return lb_error_set(err, LB_ERR_DEVICE,
					    "laser %d: laser line not found on the pattern", l + 1);
		for (int k = 0; k < 3; k++)
			planes[l].n[k] = n[k];
		planes[l].d = d;
		rep->laser_points[l] = (int)keep.size(), rep->laser_rms_mm[l] = rms;
	}

	// the turntable: the pattern origin's circle
	cv::Vec3d axis, centre;
	{
		cv::Vec3d n;
		double d, rms;
		if (idx.size() < 3 || !fit_plane(ts, n, d, rms))
			return lb_error_set(err, LB_ERR_DEVICE, "too few views for the turntable");
		// up: against the pattern's rows (its y goes down the plate)
		double s = 0;
		for (const auto &R : Rs)
			s += n.dot(cv::Vec3d(R(0, 1), R(1, 1), R(2, 1)));
		axis = s > 0 ? -n : n;
		cv::Vec3d e1 = ts.back() - ts.front();
		e1 -= axis * axis.dot(e1);
		if (cv::norm(e1) < 1e-6)
			return lb_error_set(err, LB_ERR_DEVICE,
					    "the pattern did not move: does the turntable turn?");
		e1 *= 1.0 / cv::norm(e1);
		cv::Vec3d e2 = axis.cross(e1);
		// x^2 + y^2 + D x + E y + F = 0 by least squares (Kasa)
		cv::Mat A((int)ts.size(), 3, CV_64F), b((int)ts.size(), 1, CV_64F), sol;
		for (int i = 0; i < (int)ts.size(); i++) {
			double x = e1.dot(ts[(size_t)i]), y = e2.dot(ts[(size_t)i]);
			A.at<double>(i, 0) = x, A.at<double>(i, 1) = y, A.at<double>(i, 2) = 1;
			b.at<double>(i) = -(x * x + y * y);
		}
		if (!cv::solve(A, b, sol, cv::DECOMP_SVD))
			return lb_error_set(err, LB_ERR_DEVICE,
					    "the turntable's circle fit failed");
		double cx = -sol.at<double>(0) / 2, cy = -sol.at<double>(1) / 2;
		double r2 = cx * cx + cy * cy - sol.at<double>(2);
		if (!(r2 > 0))
			return lb_error_set(err, LB_ERR_DEVICE,
					    "the turntable's circle fit failed");
		centre = e1 * cx + e2 * cy + axis * d * (n.dot(axis) > 0 ? 1 : -1);
		double r = sqrt(r2), ss = 0;
		for (const auto &t : ts) {
			cv::Vec3d q = t - centre;
			q -= axis * axis.dot(q);
			ss += (cv::norm(q) - r) * (cv::norm(q) - r);
		}
		rep->table_radius_mm = r;
		rep->table_rms_mm = sqrt(ss / (double)ts.size());
	}
	// the table's surface (the plate's foot) and its x axis (the pattern's -x at angle 0)
	double h = 0;
	cv::Vec3d xsum(0, 0, 0);
	for (size_t k = 0; k < idx.size(); k++) {
		cv::Vec3d foot =
		    Rs[k] * cv::Vec3d(0, (P.rows - 1) * P.square + P.origin, 0) + ts[k];
		h += axis.dot(foot - centre);
		double a = c->views[(size_t)idx[k]].angle * M_PI / 180;
		cv::Vec3d ex(Rs[k](0, 0), Rs[k](1, 0), Rs[k](2, 0));
		xsum += axis_rotation(axis, -a) * ex;
	}
	cv::Vec3d origin = centre + axis * (h / (double)idx.size());
	cv::Vec3d X = -(xsum - axis * axis.dot(xsum));
	if (cv::norm(X) < 1e-6)
		return lb_error_set(err, LB_ERR_DEVICE, "the pattern's orientation is unusable");
	X *= 1.0 / cv::norm(X);
	cv::Vec3d Z = X.cross(axis);

	memset(out, 0, sizeof *out);
	out->cam = cam;
	for (int r = 0; r < 3; r++) {
		out->cam.R[3 * r + 0] = X[r], out->cam.R[3 * r + 1] = axis[r];
		out->cam.R[3 * r + 2] = Z[r], out->cam.t[r] = origin[r];
	}
	out->nlasers = c->nlasers;
	for (int l = 0; l < c->nlasers; l++)
		out->laser[l] = planes[l];
	return 0;
}

extern "C" ciclop_calibrator *ciclop_calibrator_new(const ciclop_pattern *p, int width, int height,
						    int nlasers, int views, lb_error *err)
{
	if (!p || p->cols < 3 || p->cols > 50 || p->rows < 3 || p->rows > 50 ||
	    !(p->square >= 1 && p->square <= 200) || !(p->origin >= 0 && p->origin <= 500) ||
	    width < 16 || height < 16 || width > 8192 || height > 8192 || nlasers < 1 ||
	    nlasers > CICLOP_LASERS_MAX || views < 1 || views > VIEWS_MAX) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS,
			     "calibration: pattern or sizes out of range");
		return NULL;
	}
	try {
		ciclop_calibrator *c = new ciclop_calibrator;
		c->pat = *p, c->width = width, c->height = height, c->nlasers = nlasers;
		try {
			c->views.resize((size_t)views);
			c->worker = std::thread(work, c);
		} catch (...) {
			delete c;
			throw;
		}
		return c;
	} catch (...) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		return NULL;
	}
}

// Look for the chessboard in view i's frame (the worker's, the lock not held): corners in one order
// for every view (corner 0 top-left as seen, rows going down). May throw.
static bool find_board(const ciclop_calibrator *c, const std::vector<uint8_t> &off,
		       std::vector<cv::Point2f> &corners)
{
	cv::Mat m(c->height, c->width, CV_8UC1, const_cast<uint8_t *>(off.data()));
	if (!cv::findChessboardCorners(m, cv::Size(c->pat.cols, c->pat.rows), corners,
				       cv::CALIB_CB_ADAPTIVE_THRESH | cv::CALIB_CB_NORMALIZE_IMAGE |
					   cv::CALIB_CB_FAST_CHECK))
		return false;
	cv::cornerSubPix(
	    m, corners, cv::Size(5, 5), cv::Size(-1, -1),
	    cv::TermCriteria(cv::TermCriteria::EPS + cv::TermCriteria::COUNT, 40, 0.001));
	if (corners.back().x < corners.front().x)
		std::reverse(corners.begin(), corners.end());
	return true;
}

// The worker: views from the queue searched one at a time until stop. A view's frame is not
// touched by the caller while it is queued (ciclop_calibrator_view refuses a view twice).
static void work(ciclop_calibrator *c)
{
	std::unique_lock<std::mutex> g(c->lock);
	for (;;) {
		c->wake.wait(g, [c] { return c->stop || !c->queue.empty(); });
		if (c->stop)
			return;
		int i = c->queue.front();
		c->queue.pop_front();
		g.unlock();
		std::vector<cv::Point2f> corners;
		bool ok = false;
		try {
			ok = find_board(c, c->views[(size_t)i].off, corners);
		} catch (...) {
			ok = false; // OpenCV refused the frame: no chessboard in it
		}
		g.lock();
		calib_view &v = c->views[(size_t)i];
		v.found = ok, v.corners = std::move(corners), v.checked = true;
		c->checked++, c->found += ok, c->pending--;
		if (c->pending == 0)
			c->idle.notify_all();
	}
}

extern "C" int ciclop_calibrator_view(ciclop_calibrator *c, int i, double angle_deg,
				      const uint8_t *grey, lb_error *err)
{
	if (!c || !grey || i < 0 || i >= (int)c->views.size() || !isfinite(angle_deg))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "calibration: bad view");
	try {
		std::lock_guard<std::mutex> g(c->lock);
		calib_view &v = c->views[(size_t)i];
		if (v.given)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "calibration: view %d given twice", i);
		v.off.assign(grey, grey + (size_t)c->width * c->height);
		v.given = true, v.angle = angle_deg;
		c->queue.push_back(i);
		c->pending++;
		c->wake.notify_one();
		return 0;
	} catch (...) {
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	}
}

extern "C" int ciclop_calibrator_wait(ciclop_calibrator *c, int timeout_ms)
{
	std::unique_lock<std::mutex> g(c->lock);
	c->idle.wait_for(g, std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms),
			 [c] { return c->pending == 0; });
	return c->pending;
}

extern "C" int ciclop_calibrator_status(ciclop_calibrator *c, int *checked, int *found)
{
	if (!c) {
		if (checked)
			*checked = 0;
		if (found)
			*found = 0;
		return 0;
	}
	std::lock_guard<std::mutex> g(c->lock);
	if (checked)
		*checked = c->checked;
	if (found)
		*found = c->found;
	return c->pending;
}

extern "C" int ciclop_calibrator_laser(ciclop_calibrator *c, int i, int n, const uint8_t *on,
				       const ciclop_detect_opts *det, lb_error *err)
{
	if (!c || !on || !det || i < 0 || i >= (int)c->views.size() || n < 1 || n > c->nlasers ||
	    !c->views[(size_t)i].given)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "calibration: bad laser frame");
	try {
		std::vector<float> &cols = c->views[(size_t)i].cols[n - 1];
		cols.assign((size_t)c->height, -1.f);
		int rows = ciclop_detect(on, c->views[(size_t)i].off.data(), c->width, c->height,
					 (size_t)c->width, det, cols.data());
		if (rows < 0)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "calibration: bad detection settings");
		return rows;
	} catch (...) {
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	}
}

extern "C" int ciclop_calibrator_solve(ciclop_calibrator *c, ciclop_calib *out,
				       ciclop_calib_report *rep, lb_error *err)
{
	if (!c || !out || !rep)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "calibration: bad arguments");
	try {
		std::lock_guard<std::mutex> g(c->lock);
		if (c->pending > 0)
			return lb_error_set(err, LB_ERR_INTERNAL,
					    "calibration: %d views still being searched",
					    c->pending);
		return solve_cpp(c, out, rep, err);
	} catch (const std::bad_alloc &) {
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	} catch (const std::exception &e) {
		return lb_error_set(err, LB_ERR_DEVICE, "the calibration's fit failed: %s",
				    e.what());
	} catch (...) {
		return lb_error_set(err, LB_ERR_DEVICE, "the calibration's fit failed");
	}
}

extern "C" void ciclop_calibrator_destroy(ciclop_calibrator **c)
{
	if (!c || !*c)
		return;
	{
		std::lock_guard<std::mutex> g((*c)->lock);
		(*c)->stop = true;
		(*c)->wake.notify_one();
	}
	if ((*c)->worker.joinable())
		(*c)->worker.join(); /* after the search under way, if any */
	delete *c;
	*c = NULL;
}

/* The module's table (calibrate.h): what calibrate_load.c finds with dlsym. */
extern "C" {
extern const ciclop_calibrate_api ciclop_calibrate_api_v1;
const ciclop_calibrate_api ciclop_calibrate_api_v1 = {
    CICLOP_CALIBRATE_API_VERSION, ciclop_calibrator_new,     ciclop_calibrator_view,
    ciclop_calibrator_status,	  ciclop_calibrator_wait,    ciclop_calibrator_laser,
    ciclop_calibrator_solve,	  ciclop_calibrator_destroy,
};
}
