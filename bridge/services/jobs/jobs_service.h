/* jobs_service.h - the server's one job store, shared by the services whose work is jobs. */
#ifndef LB_JOBS_SERVICE_H
#define LB_JOBS_SERVICE_H

#include "../../core/service.h"
#include "jobs.h"

/*
 * The server's job store (<data dir>/jobs.db), opened on first use (recovery then runs, with the
 * declared kinds' import and recovery hooks) and closed when the server ends: every service uses
 * this one, never a store of its own, so that recovery runs once. NULL with err set when the data
 * directory is unusable.
 */
lb_jobs *lb_jobs_shared(lb_server *s, lb_error *err);

#endif
