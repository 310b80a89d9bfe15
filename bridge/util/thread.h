/* thread.h - starting the bridge's threads with the process's signals blocked. */
#ifndef LB_THREAD_H
#define LB_THREAD_H

#include <pthread.h>

/*
 * pthread_create with every asynchronous signal (SIGTERM, SIGINT, SIGHUP, SIGCHLD...) blocked in
 * the new thread, so that the kernel delivers them to the main thread, whose loop handles them:
 * a signal taken by another thread would interrupt its poll for nothing (and end a thread that
 * treats an interrupted poll as an error). Returns pthread_create's result (0 or an errno).
 */
int lb_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg);

#endif
