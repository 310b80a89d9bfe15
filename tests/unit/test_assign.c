/* test_assign.c - unit tests of protocols/assign.c: group names, the table, the lease rule and the
 * file's text. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../protocols/assign.h"
#include "check.h"

static void test_group_names(void)
{
	char long_name[80];

	CHECK(lb_assign_group_ok("5B group 3"));
	CHECK(lb_assign_group_ok("unix:alice"));
	CHECK(lb_assign_group_ok("5e élèves ★"));	      /* 2- and 3-byte UTF-8 */
	CHECK(lb_assign_group_ok("groupe \xF0\x9F\xA4\x96")); /* 4 bytes: a robot emoji */
	CHECK(!lb_assign_group_ok(""));
	CHECK(!lb_assign_group_ok("a\nb"));
	CHECK(!lb_assign_group_ok("tab\there"));
	CHECK(!lb_assign_group_ok("del\x7f"));
	CHECK(!lb_assign_group_ok("c1 \xC2\x85"));	      /* U+0085, a C1 control */
	CHECK(!lb_assign_group_ok("bad \xC3"));		      /* cut sequence */
	CHECK(!lb_assign_group_ok("bad \xC3("));	      /* bad continuation */
	CHECK(!lb_assign_group_ok("over \xC0\xAF"));	      /* overlong '/' */
	CHECK(!lb_assign_group_ok("over \xE0\x80\xAF"));      /* overlong, 3 bytes */
	CHECK(!lb_assign_group_ok("surrogate \xED\xA0\x80")); /* U+D800 */
	CHECK(!lb_assign_group_ok("big \xF4\x90\x80\x80"));   /* above U+10FFFF */
	CHECK(!lb_assign_group_ok("\xFF"));
	memset(long_name, 'g', sizeof long_name);
	long_name[63] = '\0';
	CHECK(lb_assign_group_ok(long_name));
	long_name[63] = 'g';
	long_name[64] = '\0';
	CHECK_MSG(!lb_assign_group_ok(long_name), "64 bytes is one too many");
}

static void test_table_and_rule(void)
{
	lb_assigns t = {0};

	CHECK_EQ_INT(lb_assigns_set(&t, "sim-t2", "G3", 10), 1);
	CHECK_EQ_INT(lb_assigns_set(&t, "sim-t1", "G4", 11), 1);
	CHECK_EQ_INT(lb_assigns_set(&t, "sim-t1", "G4", 12), 0); /* unchanged: since kept */
	CHECK_EQ_INT((int)lb_assigns_find(&t, "sim-t1")->since, 11);
	CHECK_EQ_INT((int)t.n, 2);
	CHECK_STR(t.v[0].device, "sim-t1"); /* sorted */
	CHECK_EQ_INT(lb_assigns_set(&t, "sim-t1", "G3", 13), 1);
	CHECK_STR(lb_assigns_find(&t, "sim-t1")->group, "G3");
	CHECK_EQ_INT((int)lb_assigns_find(&t, "sim-t1")->since, 13);
	CHECK_EQ_INT(lb_assigns_set(&t, "sim-t1", "a\nb", 14), LB_ASSIGN_EBAD);
	CHECK_EQ_INT(lb_assigns_set(&t, "", "G3", 14), LB_ASSIGN_EBAD);
	/* the rule: unassigned is anyone's; assigned is its group's, or its user's */
	CHECK(lb_assigns_allow(&t, "sim-t9", "", "unix:bob"));
	CHECK(lb_assigns_allow(&t, "sim-t1", "G3", "key:x"));
	CHECK(!lb_assigns_allow(&t, "sim-t1", "G4", "key:y"));
	CHECK_MSG(!lb_assigns_allow(&t, "sim-t1", "", "unix:bob"), "no trusted group: refused");
	CHECK_EQ_INT(lb_assigns_set(&t, "sim-t2", "unix:bob", 15), 1);
	CHECK(lb_assigns_allow(&t, "sim-t2", "", "unix:bob"));
	CHECK(!lb_assigns_allow(&t, "sim-t2", "", "unix:alice"));
	CHECK_MSG(!lb_assigns_allow(&t, "sim-t2", "", ""), "an empty user matches nothing");
	/* cleared */
	CHECK_EQ_INT(lb_assigns_set(&t, "sim-t1", NULL, 16), 1);
	CHECK_EQ_INT(lb_assigns_set(&t, "sim-t1", NULL, 16), 0);
	CHECK(lb_assigns_find(&t, "sim-t1") == NULL);
	CHECK(lb_assigns_allow(&t, "sim-t1", "", "unix:bob"));
	lb_assigns_clear(&t);
	CHECK_EQ_INT((int)t.n, 0);
}

static void test_bounded(void)
{
	lb_assigns t = {0};
	char id[32];
	int ok = 1;

	for (int i = 0; i < LB_ASSIGN_MAX; i++) {
		snprintf(id, sizeof id, "dev-%05d", i);
		ok &= lb_assigns_set(&t, id, "G", i) == 1;
	}
	CHECK(ok);
	CHECK_EQ_INT(lb_assigns_set(&t, "one-more", "G", 0), LB_ASSIGN_EFULL);
	CHECK_EQ_INT(lb_assigns_set(&t, "dev-00000", "H", 0), 1); /* changing one still works */
	lb_assigns_clear(&t);
}

static void test_file_round_trip(void)
{
	lb_assigns t = {0}, u = {0};
	char why[200] = "", *text;

	lb_assigns_set(&t, "sim-t2", "5B group 3", 1795849144848967634LL);
	lb_assigns_set(&t, "thymio-1", "élèves \"B\"", 7);
	text = lb_assigns_dump(&t);
	CHECK(text != NULL);
	CHECK(text && text[strlen(text) - 1] == '\n');
	CHECK_EQ_INT(lb_assigns_parse(text, strlen(text), &u, why, sizeof why), 0);
	CHECK_EQ_INT((int)u.n, 2);
	CHECK_STR(lb_assigns_find(&u, "thymio-1")->group, "élèves \"B\"");
	CHECK(lb_assigns_find(&u, "sim-t2")->since == 1795849144848967634LL);
	free(text);
	lb_assigns_clear(&t);
	text = lb_assigns_dump(&t);
	CHECK_EQ_INT(lb_assigns_parse(text, strlen(text), &u, why, sizeof why), 0);
	CHECK_EQ_INT((int)u.n, 0);
	free(text);
	lb_assigns_clear(&u);
}

/* A bad file: refused whole, with why; the table is left empty. */
static void check_bad(const char *text, const char *why_part)
{
	lb_assigns t = {0};
	char why[200] = "";

	lb_assigns_set(&t, "before", "G", 1);
	CHECK_EQ_INT(lb_assigns_parse(text, strlen(text), &t, why, sizeof why), LB_ASSIGN_EBAD);
	CHECK_EQ_INT((int)t.n, 0);
	CHECK_CONTAINS(why, why_part);
	lb_assigns_clear(&t);
}

static void test_bad_files(void)
{
	check_bad("", "line");
	check_bad("{\"v\": 1, \"assignments\": [", "line");
	check_bad("[]", "not {");
	check_bad("{\"v\": 2, \"assignments\": []}", "not {");
	check_bad("{\"v\": 1, \"assignments\": {}}", "not {");
	check_bad("{\"v\": 1, \"assignments\": [{\"device\": \"a\", \"group\": \"G\"}]}",
		  "entry 0: needs");
	check_bad("{\"v\": 1, \"assignments\": [{\"device\": \"a\", \"group\": \"\\u0001\", "
		  "\"since_ns\": 1}]}",
		  "entry 0: a bad");
	check_bad(
	    "{\"v\": 1, \"assignments\": [{\"device\": \"a\", \"group\": \"G\", \"since_ns\": "
	    "1}, {\"device\": \"a\", \"group\": \"H\", \"since_ns\": 2}]}",
	    "entry 1: a assigned twice");
	check_bad("{\"v\": 1, \"v\": 1, \"assignments\": []}", "line");
}

int main(void)
{
	RUN(test_group_names);
	RUN(test_table_and_rule);
	RUN(test_bounded);
	RUN(test_file_round_trip);
	RUN(test_bad_files);
	return check_summary();
}
