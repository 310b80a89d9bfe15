/* thread.c - starting the bridge's threads with the process's signals blocked. */
#include "thread.h"

#include <signal.h>

int lb_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	sigset_t all;
	int rc;

	/*
	 * The new thread starts with the mask set in its attributes (glibc 2.32): the caller's
	 * own mask is never touched, so no signal is ever held back from the main thread, even
	 * for a moment.
	 */
	sigfillset(&all);
	/* faults stay deliverable to the thread that causes them */
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGABRT);
	sigdelset(&all, SIGTRAP);
	rc = pthread_attr_init(&attr);
	if (rc != 0)
		return rc;
	rc = pthread_attr_setsigmask_np(&attr, &all);
	if (rc == 0)
		rc = pthread_create(thread, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return rc;
}
