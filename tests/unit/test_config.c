/* test_config.c - unit tests of bridge/util/config.c: INI loading, line numbers, errors, set. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "../../bridge/util/config.h"

/* A temporary file: mkstemp in $TMPDIR (or /tmp), removed by temp_remove. */
typedef struct temp {
	char path[512];
} temp;

static int temp_write(temp *t, const void *content, size_t len)
{
	const char *dir = getenv("TMPDIR");
	const char *p = content;
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	snprintf(t->path, sizeof t->path, "%s/labbridge-test-config-XXXXXX", dir);
	fd = mkstemp(t->path);
	if (fd < 0) {
		fprintf(stderr, "  mkstemp %s: %s\n", t->path, strerror(errno));
		t->path[0] = '\0';
		return -1;
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n <= 0) {
			close(fd);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return close(fd);
}

#define TEMP_WRITE(t, text) CHECK_EQ_INT(temp_write(t, text, strlen(text)), 0)

static void temp_remove(temp *t)
{
	if (t->path[0])
		unlink(t->path);
	t->path[0] = '\0';
}

/* "path:line:" for the message checks. */
static const char *at(const temp *t, int line)
{
	static char buf[600];

	snprintf(buf, sizeof buf, "%s:%d:", t->path, line);
	return buf;
}

static long long line_of(const json_t *cfg, const char *section, const char *key)
{
	const json_t *sec = json_object_get(cfg, section);

	if (!key)
		return json_integer_value(json_object_get(sec, "_line"));
	return json_integer_value(json_object_get(json_object_get(sec, "_lines"), key));
}

static const char basic_ini[] = "; labbridge test configuration\n"	   /* 1 */
				"[bridge]\n"				   /* 2 */
				"pub = tcp://127.0.0.1:6555\n"		   /* 3 */
				"rpc=tcp://127.0.0.1:6556   ; a comment\n" /* 4 */
				"heartbeat_ms   =   500  \n"		   /* 5 */
				"\n"					   /* 6 */
				"# another comment\n"			   /* 7 */
				"[access]\n"				   /* 8 */
				"default_role = student\n"		   /* 9 */
				"remote_role = observer\n"		   /* 10 */
				"\n"					   /* 11 */
				"[sim.temp-2]\n"			   /* 12 */
				"wave = sine\n"				   /* 13 */
				"rate = 25.5\n"				   /* 14 */
				"title = A = B, unit °C\n"		   /* 15 */
				"empty =\n"				   /* 16 */
				"[bridge]\n"				   /* 17 */
				"ws = none\n";				   /* 18 */

static void test_load_sections_keys(void)
{
	temp t;
	lb_error err = {0};
	json_t *cfg;

	TEMP_WRITE(&t, basic_ini);
	cfg = lb_config_load(t.path, &err);
	CHECK(cfg != NULL);
	if (!cfg) {
		fprintf(stderr, "  %s\n", err.message);
		temp_remove(&t);
		return;
	}
	CHECK_STR(json_string_value(json_object_get(cfg, "_path")), t.path);
	CHECK_STR(lb_config_str(cfg, "bridge", "pub", NULL), "tcp://127.0.0.1:6555");
	CHECK_STR(lb_config_str(cfg, "bridge", "rpc", NULL), "tcp://127.0.0.1:6556");
	CHECK_STR(lb_config_str(cfg, "bridge", "heartbeat_ms", NULL), "500");
	CHECK_STR(lb_config_str(cfg, "bridge", "ws", NULL), "none"); /* a section continued */
	CHECK_STR(lb_config_str(cfg, "access", "default_role", NULL), "student");
	CHECK_STR(lb_config_str(cfg, "access", "remote_role", NULL), "observer");
	CHECK_STR(lb_config_str(cfg, "sim.temp-2", "wave", NULL), "sine");
	CHECK_STR(lb_config_str(cfg, "sim.temp-2", "rate", NULL), "25.5");
	CHECK_STR(lb_config_str(cfg, "sim.temp-2", "title", NULL), "A = B, unit °C");
	CHECK_STR(lb_config_str(cfg, "sim.temp-2", "empty", "def"), "");

	/* Absent section or key: the default. */
	CHECK_STR(lb_config_str(cfg, "bridge", "simulate", "auto"), "auto");
	CHECK_STR(lb_config_str(cfg, "nosuch", "x", "d"), "d");
	CHECK(lb_config_str(cfg, "nosuch", "x", NULL) == NULL);

	/* Only the sections of the file (and _path). */
	CHECK_EQ_INT(json_object_size(cfg), 4);

	/* Line numbers of keys. */
	CHECK_EQ_INT(line_of(cfg, "bridge", "pub"), 3);
	CHECK_EQ_INT(line_of(cfg, "bridge", "rpc"), 4);
	CHECK_EQ_INT(line_of(cfg, "bridge", "heartbeat_ms"), 5);
	CHECK_EQ_INT(line_of(cfg, "bridge", "ws"), 18);
	CHECK_EQ_INT(line_of(cfg, "access", "default_role"), 9);
	CHECK_EQ_INT(line_of(cfg, "access", "remote_role"), 10);
	CHECK_EQ_INT(line_of(cfg, "sim.temp-2", "wave"), 13);
	CHECK_EQ_INT(line_of(cfg, "sim.temp-2", "rate"), 14);
	CHECK_EQ_INT(line_of(cfg, "sim.temp-2", "empty"), 16);
	CHECK(json_is_integer(json_object_get(json_object_get(cfg, "bridge"), "_line")));
	CHECK(json_is_object(json_object_get(json_object_get(cfg, "bridge"), "_lines")));

	/*
	 * Known bug (reported): "_line" should be the line of the [section] header (config.h:
	 * "where it starts"). Debian's libinih is built without INI_CALL_HANDLER_ON_NEW_SECTION, so
	 * the handler never sees a section alone and _line is the line of the section's first key.
	 */
	CHECK(line_of(cfg, "bridge", NULL) == 2 || line_of(cfg, "bridge", NULL) == 3);
	CHECK_MSG(line_of(cfg, "bridge", NULL) == 2 && line_of(cfg, "access", NULL) == 8 &&
		      line_of(cfg, "sim.temp-2", NULL) == 12,
		  "config.c: _line is the first key's line, not the [section] header's");
	json_decref(cfg);
	temp_remove(&t);
}

/* Known bug (reported): a section without keys is lost (same cause as _line above). */
static void test_load_empty_section(void)
{
	temp t;
	lb_error err;
	json_t *cfg;

	TEMP_WRITE(&t, "[sim.defaults]\n[bridge]\npub = tcp://127.0.0.1:1\n");
	cfg = lb_config_load(t.path, &err);
	CHECK(cfg != NULL);
	CHECK_MSG(json_is_object(json_object_get(cfg, "sim.defaults")),
		  "config.c: a [section] with no keys is dropped (inih calls no handler for it)");
	json_decref(cfg);
	temp_remove(&t);
}

/* An empty file and a file with only comments are valid, empty configurations. */
static void test_load_empty_file(void)
{
	temp t;
	lb_error err;
	json_t *cfg;

	TEMP_WRITE(&t, "");
	cfg = lb_config_load(t.path, &err);
	CHECK(json_is_object(cfg));
	CHECK_EQ_INT(json_object_size(cfg), 1); /* _path */
	json_decref(cfg);
	temp_remove(&t);

	TEMP_WRITE(&t, "; nothing\n# here\n\n");
	cfg = lb_config_load(t.path, &err);
	CHECK(json_is_object(cfg));
	json_decref(cfg);
	temp_remove(&t);
}

/* Load text, expect failure with a message containing path:line and extra (if not NULL). */
static void expect_load_error(const char *text, int line, const char *extra)
{
	temp t;
	lb_error err = {0};
	json_t *cfg;

	if (temp_write(&t, text, strlen(text)) < 0) {
		CHECK(!"temp file");
		return;
	}
	cfg = lb_config_load(t.path, &err);
	CHECK(cfg == NULL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK_CONTAINS(err.message, at(&t, line));
	if (extra)
		CHECK_CONTAINS(err.message, extra);
	json_decref(cfg);
	temp_remove(&t);
}

static void test_unknown_bridge_key(void)
{
	expect_load_error("[bridge]\npub = tcp://127.0.0.1:1\n\nfoo = 1\n", 4, "'foo'");
	expect_load_error("; c\n[bridge]\nPub = x\n", 3, "'Pub'");
	/* Keys of [access] are checked too. */
	expect_load_error("[access]\ndefault_role = teacher\nrole = student\n", 3, "'role'");
	/* Other sections take any key. */
	{
		temp t;
		lb_error err;
		json_t *cfg;

		TEMP_WRITE(&t, "[sim.a]\nfoo = 1\n[firmata.b]\nanything = goes\n");
		cfg = lb_config_load(t.path, &err);
		CHECK(cfg != NULL);
		CHECK_STR(lb_config_str(cfg, "firmata.b", "anything", NULL), "goes");
		json_decref(cfg);
		temp_remove(&t);
	}
}

static void test_bad_role(void)
{
	expect_load_error("[access]\ndefault_role = admin\n", 2, "'admin'");
	expect_load_error(
	    "[bridge]\npub = x\n[access]\ndefault_role = student\nremote_role = Teacher\n", 5,
	    "remote_role");
	expect_load_error("[access]\n\n\ndefault_role =\n", 4, "default_role");
}

static void test_syntax_error(void)
{
	expect_load_error("[bridge]\npub = x\nthis line has no equals sign\nrpc = y\n", 3,
			  "syntax error");
	expect_load_error("[sim.a\n", 1, "syntax error");
	/* The first error is the one reported. */
	expect_load_error("[sim.a]\nx = 1\n\n\nbroken\nalso broken\n", 5, "syntax error");
	/* A key outside any section. */
	expect_load_error("pub = x\n[bridge]\n", 1, "outside any [section]");
	/* Keys may not start with '_' (they would clash with _line and _lines). */
	expect_load_error("[sim.a]\nrate = 1\n_lines = 3\n", 3, "'_'");
}

static void test_missing_file(void)
{
	lb_error err = {0};
	json_t *cfg = lb_config_load("/nonexistent/labbridge-test/none.conf", &err);

	CHECK(cfg == NULL);
	CHECK(err.code != 0);
	CHECK_CONTAINS(err.message, "/nonexistent/labbridge-test/none.conf");
	CHECK_CONTAINS(err.message, "cannot open");
	CHECK_CONTAINS(err.message, strerror(ENOENT));
}

static void test_num(void)
{
	temp t;
	lb_error err = {0};
	json_t *cfg;
	double v = -1;

	TEMP_WRITE(&t, "[bridge]\n"		   /* 1 */
		       "heartbeat_ms = 500\n"	   /* 2 */
		       "pub_hwm = 1e4\n"	   /* 3 */
		       "request_timeout_ms = -3\n" /* 4 */
		       "log_level = abc\n"	   /* 5 */
		       "simulate = 12abc\n"	   /* 6 */
		       "data_dir = \n"		   /* 7 */
		       "[sim.x]\n"		   /* 8 */
		       "rate = 2.5\n"		   /* 9 */
		       "offset = nan\n"		   /* 10 */
		       "amplitude = inf\n"	   /* 11 */
		       "noise = 1e999\n"	   /* 12 */
		       "min =   -40\n"		   /* 13 */
		       "max = 0x10\n");		   /* 14 */
	cfg = lb_config_load(t.path, &err);
	CHECK(cfg != NULL);
	if (!cfg) {
		temp_remove(&t);
		return;
	}

	CHECK_EQ_INT(lb_config_num(cfg, "bridge", "heartbeat_ms", 10, 1000, 1000, &v, &err), 0);
	CHECK(v == 500);
	CHECK_EQ_INT(lb_config_num(cfg, "bridge", "pub_hwm", 0, 1e6, 0, &v, &err), 0);
	CHECK(v == 10000);
	CHECK_EQ_INT(lb_config_num(cfg, "sim.x", "rate", 0.001, 100000, 10, &v, &err), 0);
	CHECK(v == 2.5);
	CHECK_EQ_INT(lb_config_num(cfg, "sim.x", "min", -1e12, 1e12, 0, &v, &err), 0);
	CHECK(v == -40);
	/* Bounds are inclusive. */
	CHECK_EQ_INT(lb_config_num(cfg, "bridge", "heartbeat_ms", 500, 500, 0, &v, &err), 0);
	CHECK(v == 500);

	/* Absent: the default, no error. */
	v = -1;
	CHECK_EQ_INT(lb_config_num(cfg, "bridge", "ws", 0, 1, 0.25, &v, &err), 0);
	CHECK(v == 0.25);
	CHECK_EQ_INT(lb_config_num(cfg, "nosuch", "key", 0, 1, 0.5, &v, &err), 0);
	CHECK(v == 0.5);

	/* Out of range: LB_EINVAL, path:line, section, key and value in the message; *out kept. */
	v = -1;
	err.code = 0;
	CHECK_EQ_INT(lb_config_num(cfg, "bridge", "heartbeat_ms", 10, 100, 50, &v, &err),
		     LB_EINVAL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK_CONTAINS(err.message, at(&t, 2));
	CHECK_CONTAINS(err.message, "heartbeat_ms");
	CHECK_CONTAINS(err.message, "'500'");
	CHECK_CONTAINS(err.message, "[bridge]");
	CHECK(v == -1);
	CHECK_EQ_INT(lb_config_num(cfg, "bridge", "request_timeout_ms", 0, 1e9, 0, &v, &err),
		     LB_EINVAL);
	CHECK_CONTAINS(err.message, at(&t, 4));
	CHECK_EQ_INT(lb_config_num(cfg, "bridge", "heartbeat_ms", 501, 1000, 0, &v, &err),
		     LB_EINVAL);

	/* Not numbers. */
	CHECK_EQ_INT(lb_config_num(cfg, "bridge", "log_level", 0, 10, 0, &v, &err), LB_EINVAL);
	CHECK_CONTAINS(err.message, at(&t, 5));
	CHECK_CONTAINS(err.message, "'abc'");
	CHECK_EQ_INT(lb_config_num(cfg, "bridge", "simulate", 0, 100, 0, &v, &err), LB_EINVAL);
	CHECK_CONTAINS(err.message, at(&t, 6));
	CHECK_EQ_INT(lb_config_num(cfg, "bridge", "data_dir", -1e9, 1e9, 0, &v, &err), LB_EINVAL);
	CHECK_CONTAINS(err.message, at(&t, 7));
	CHECK_EQ_INT(lb_config_num(cfg, "sim.x", "offset", -1e9, 1e9, 0, &v, &err), LB_EINVAL);
	CHECK_CONTAINS(err.message, at(&t, 10));
	CHECK_EQ_INT(lb_config_num(cfg, "sim.x", "amplitude", -INFINITY, INFINITY, 0, &v, &err),
		     LB_EINVAL);
	CHECK_CONTAINS(err.message, at(&t, 11));
	CHECK_EQ_INT(lb_config_num(cfg, "sim.x", "noise", -INFINITY, INFINITY, 0, &v, &err),
		     LB_EINVAL);
	CHECK_CONTAINS(err.message, at(&t, 12));
	CHECK(v == -1);

	/* strtod reads hexadecimal too. */
	CHECK_EQ_INT(lb_config_num(cfg, "sim.x", "max", -1e12, 1e12, 0, &v, &err), 0);
	CHECK(v == 16);
	json_decref(cfg);
	temp_remove(&t);
}

static void test_set(void)
{
	json_t *cfg = lb_config_empty();
	lb_error err = {0};
	double v = 0;

	CHECK(json_is_object(cfg));
	CHECK_EQ_INT(json_object_size(cfg), 0);
	CHECK_STR(lb_config_str(cfg, "bridge", "pub", "dflt"), "dflt");

	/* A new section, then a second key and an override. */
	CHECK_EQ_INT(lb_config_set(cfg, "bridge", "pub", "tcp://*:1"), 0);
	CHECK_STR(lb_config_str(cfg, "bridge", "pub", NULL), "tcp://*:1");
	CHECK_EQ_INT(lb_config_set(cfg, "bridge", "rpc", "tcp://*:2"), 0);
	CHECK_EQ_INT(lb_config_set(cfg, "bridge", "pub", "tcp://*:3"), 0);
	CHECK_STR(lb_config_str(cfg, "bridge", "pub", NULL), "tcp://*:3");
	CHECK_STR(lb_config_str(cfg, "bridge", "rpc", NULL), "tcp://*:2");
	CHECK(json_is_object(json_object_get(json_object_get(cfg, "bridge"), "_lines")));

	/* Numbers set on the command line; errors name the command line. */
	CHECK_EQ_INT(lb_config_set(cfg, "bridge", "heartbeat_ms", "250"), 0);
	CHECK_EQ_INT(lb_config_num(cfg, "bridge", "heartbeat_ms", 10, 1000, 1000, &v, &err), 0);
	CHECK(v == 250);
	CHECK_EQ_INT(lb_config_set(cfg, "bridge", "heartbeat_ms", "5000"), 0);
	CHECK_EQ_INT(lb_config_num(cfg, "bridge", "heartbeat_ms", 10, 1000, 1000, &v, &err),
		     LB_EINVAL);
	CHECK_CONTAINS(err.message, "(command line)");
	CHECK_CONTAINS(err.message, "'5000'");

	/* Invalid UTF-8 cannot be stored. */
	CHECK(lb_config_set(cfg, "bridge", "pub", "\xff") < 0);
	json_decref(cfg);
}

/* After a syntax error inih goes on; the first error (the cause) is the one reported. */
static void test_first_error_wins(void)
{
	temp t;
	lb_error err = {0};
	json_t *cfg;

	TEMP_WRITE(&t, "[bridge\npub = x\n");
	cfg = lb_config_load(t.path, &err);
	CHECK(cfg == NULL);
	CHECK(err.message[0] != '\0');
	CHECK_CONTAINS(err.message, at(&t, 1));
	CHECK_CONTAINS(err.message, "syntax error");
	json_decref(cfg);
	temp_remove(&t);
}

/*
 * Known bug (reported): inih (INI_ALLOW_MULTILINE) takes an indented line as a continuation of
 * the previous value and calls the handler again with the previous key; config.c then replaces
 * that value with the text of the indented line ("rpc = y"), silently. It should be refused with
 * the line number, or the line read as a key.
 */
static void test_indented_line(void)
{
	temp t;
	lb_error err = {0};
	json_t *cfg;
	int ok;

	TEMP_WRITE(&t, "[bridge]\npub = x\n  rpc = y\n");
	cfg = lb_config_load(t.path, &err);
	if (cfg)
		ok = strcmp(lb_config_str(cfg, "bridge", "pub", ""), "x") == 0 &&
		     strcmp(lb_config_str(cfg, "bridge", "rpc", ""), "y") == 0;
	else
		ok = strstr(err.message, at(&t, 3)) != NULL;
	CHECK_MSG(ok, "config.c: an indented line silently replaces the previous key's value");
	json_decref(cfg);
	temp_remove(&t);
}

/* Overriding a key of a loaded file. */
static void test_set_on_loaded(void)
{
	temp t;
	lb_error err;
	json_t *cfg;

	TEMP_WRITE(&t, "[bridge]\npub = tcp://127.0.0.1:5555\n");
	cfg = lb_config_load(t.path, &err);
	CHECK(cfg != NULL);
	CHECK_EQ_INT(lb_config_set(cfg, "bridge", "pub", "tcp://127.0.0.1:7000"), 0);
	CHECK_STR(lb_config_str(cfg, "bridge", "pub", NULL), "tcp://127.0.0.1:7000");
	CHECK_EQ_INT(lb_config_set(cfg, "access", "default_role", "student"), 0);
	CHECK_STR(lb_config_str(cfg, "access", "default_role", NULL), "student");
	json_decref(cfg);
	temp_remove(&t);
}

/*
 * Load path in a child process (config.c may corrupt memory on this input) and report there:
 * exit 0 when the load failed with an error naming path:line, 1 when it loaded, 2 for a wrong
 * error message; a signal means it crashed.
 */
static int load_in_child(const temp *t, int line)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		lb_error err = {0};
		json_t *cfg = lb_config_load(t->path, &err);
		if (cfg) {
			json_decref(cfg);
			_exit(1);
		}
		_exit(strstr(err.message, at(t, line)) ? 0 : 2);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/*
 * Known bugs (reported): text that is not UTF-8 (say, a file saved as Latin-1). A section name
 * that is not UTF-8 makes json_object_set_new free the new section, which on_entry then goes on
 * using (use after free, config.c:53 then :77; valgrind shows it, ASan cannot as jansson is not
 * instrumented); a value that is not UTF-8 is silently dropped. Both should be load errors.
 */
static void test_not_utf8(void)
{
	temp t;
	int rc;

	TEMP_WRITE(&t, "[bridge]\npub = x\n[capteur-temp\xe9rature]\nwave = sine\n");
	rc = load_in_child(&t, 3);
	/* Under valgrind the child exits with its error status (the use after free): same bug. */
	CHECK_MSG(rc == 0, "config.c: section name not UTF-8: use after free, not an error");
	temp_remove(&t);

	TEMP_WRITE(&t, "[sim.x]\ntitle = Temp\xe9rature\n");
	rc = load_in_child(&t, 2);
	CHECK(rc == 0 || rc == 1 || rc == 2);
	CHECK_MSG(rc == 0, "config.c: a value that is not UTF-8 is silently dropped");
	temp_remove(&t);

	/* A key that is not UTF-8 in a free-form section. */
	TEMP_WRITE(&t, "[sim.x]\nt\xe9 = 1\n");
	rc = load_in_child(&t, 2);
	CHECK(rc == 0 || rc == 1 || rc == 2);
	CHECK_MSG(rc == 0, "config.c: a key that is not UTF-8 is silently dropped");
	temp_remove(&t);
}

/*
 * Known bug (reported): inih (Debian: INI_MAX_LINE 200, no realloc) splits a longer line; the
 * rest is parsed as the next line, so the error blames a line past the end of the file.
 */
static void test_long_line(void)
{
	char text[400];
	temp t;
	lb_error err = {0};
	json_t *cfg;

	snprintf(text, sizeof text, "[sim.x]\ntitle = %0250d\n", 7);
	TEMP_WRITE(&t, text);
	cfg = lb_config_load(t.path, &err);
	if (cfg) {
		const char *title = lb_config_str(cfg, "sim.x", "title", "");
		CHECK_EQ_INT(strlen(title), 250);
	} else {
		CHECK_MSG(strstr(err.message, at(&t, 2)) != NULL,
			  "config.c: a line over 199 bytes is split and the error names a wrong "
			  "line");
	}
	json_decref(cfg);
	temp_remove(&t);
}

/* Unknown sections are counted (each reported once), known ones and [PREFIX.NAME] are not;
 * where() names the file and line. */
static void test_sections_and_reports(void)
{
	static const char ini[] = "[bridge]\n"		  /* 1 */
				  "pub = ipc:///tmp/x\n"  /* 2 */
				  "[firmata.bench]\n"	  /* 3 */
				  "port = /dev/ttyACM0\n" /* 4 */
				  "[firmatta.x]\n"	  /* 5 */
				  "[foo]\n"		  /* 6 */
				  "[godirect]\n"	  /* 7 */
				  "[firmata.]\n";	  /* 8 */
	static const char *const known[] = {"bridge",	"access",     "firmata", "firmata.*",
					    "godirect", "godirect.*", NULL};
	char where[700], want[700];
	temp t;
	lb_error err;
	json_t *cfg;

	TEMP_WRITE(&t, ini);
	cfg = lb_config_load(t.path, &err);
	CHECK(cfg != NULL);
	if (!cfg)
		goto out;
	/* [firmatta.x], [foo] and [firmata.] (a prefix needs a name) */
	CHECK_EQ_INT(lb_config_check_sections(cfg, known), 3);
	lb_config_where(cfg, "firmata.bench", NULL, where, sizeof where);
	snprintf(want, sizeof want, "%s:3", t.path);
	CHECK_STR(where, want);
	lb_config_where(cfg, "firmata.bench", "port", where, sizeof where);
	snprintf(want, sizeof want, "%s:4", t.path);
	CHECK_STR(where, want);
	lb_config_where(cfg, "nosuch", NULL, where, sizeof where);
	CHECK_STR(where, t.path);
	/* once per (section, key, message) */
	CHECK_EQ_INT(lb_config_report(cfg, "firmata.bench", "port", "bad %d", 1), 1);
	CHECK_EQ_INT(lb_config_report(cfg, "firmata.bench", "port", "bad %d", 1), 0);
	CHECK_EQ_INT(lb_config_report(cfg, "firmata.bench", "port", "bad %d", 2), 1);
	CHECK_EQ_INT(lb_config_report(cfg, "firmata.bench", NULL, "bad %d", 1), 1);
	json_decref(cfg);
	cfg = lb_config_empty();
	lb_config_where(cfg, "bridge", "pub", where, sizeof where);
	CHECK_STR(where, "(command line)");
	json_decref(cfg);
out:
	temp_remove(&t);
}

int main(void)
{
	RUN(test_load_sections_keys);
	RUN(test_load_empty_section);
	RUN(test_load_empty_file);
	RUN(test_unknown_bridge_key);
	RUN(test_bad_role);
	RUN(test_syntax_error);
	RUN(test_missing_file);
	RUN(test_num);
	RUN(test_set);
	RUN(test_set_on_loaded);
	RUN(test_first_error_wins);
	RUN(test_indented_line);
	RUN(test_not_utf8);
	RUN(test_long_line);
	RUN(test_sections_and_reports);
	return check_summary();
}
