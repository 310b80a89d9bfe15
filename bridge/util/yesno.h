/* yesno.h - the yes/no words of the configuration file and the command line. */
#ifndef LB_YESNO_H
#define LB_YESNO_H

/* 1 for yes, on, true or 1; 0 for no, off, false or 0 (lower case, as written in the config);
 * -1 for anything else or NULL (the caller says what it accepts: "auto", a default...). */
int lb_yesno(const char *s);

#endif
