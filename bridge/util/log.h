/* log.h - leveled logging to stderr (the journal, under systemd). */
#ifndef LB_LOG_H
#define LB_LOG_H

enum lb_log_level { LB_LOG_ERROR, LB_LOG_WARN, LB_LOG_INFO, LB_LOG_DEBUG };

/* Messages above this level are dropped. */
void lb_log_set_level(int level);

/* Print "labbridge: LEVEL: message" on stderr; thread-safe (one write per line). */
void lb_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define lb_err(...) lb_log(LB_LOG_ERROR, __VA_ARGS__)
#define lb_warn(...) lb_log(LB_LOG_WARN, __VA_ARGS__)
#define lb_info(...) lb_log(LB_LOG_INFO, __VA_ARGS__)
#define lb_dbg(...) lb_log(LB_LOG_DEBUG, __VA_ARGS__)

#endif
