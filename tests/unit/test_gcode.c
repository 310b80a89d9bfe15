/* test_gcode.c - the G-code codec with known vectors: framing, cleaning, policy, metadata. */
#include <string.h>

#include "../../protocols/gcode.h"
#include "check.h"

/* Frame cmd as line n; returns the frame (static buffer) or "(fail)". */
static const char *frame(long n, const char *cmd)
{
	static char buf[GCODE_FRAME_MAX];
	int r = gcode_frame(buf, sizeof buf, n, cmd, strlen(cmd));
	if (r < 0)
		return "(fail)";
	if ((size_t)r != strlen(buf))
		return "(bad length)";
	return buf;
}

static void test_checksum_vectors(void)
{
	CHECK_EQ_UINT(gcode_checksum("N1 M115", 7), 39);
	CHECK_EQ_UINT(gcode_checksum("N0 M110 N0", 10), 125);
	CHECK_EQ_UINT(gcode_checksum("", 0), 0);
	CHECK_STR(frame(1, "M115"), "N1 M115*39\n");
	CHECK_STR(frame(0, "M110 N0"), "N0 M110 N0*125\n");
	CHECK_STR(frame(1645, "G1 X108.5 Y127.3 E480.88219"),
		  "N1645 G1 X108.5 Y127.3 E480.88219*89\n");
}

static void test_frame_limits(void)
{
	char buf[GCODE_FRAME_MAX], cmd[GCODE_CMD_MAX + 1];

	CHECK_EQ_INT(gcode_frame(buf, sizeof buf, 1, "", 0), -1);
	CHECK_EQ_INT(gcode_frame(buf, sizeof buf, -1, "M115", 4), -1);
	CHECK_EQ_INT(gcode_frame(buf, sizeof buf, 1, "M117 a*b", 8), -1);
	CHECK_EQ_INT(gcode_frame(buf, sizeof buf, 1, "M115\n", 5), -1);
	CHECK_EQ_INT(gcode_frame(buf, sizeof buf, 1, "M1\0005", 4), -1);
	/* "N1 M115*39\n" is 11 bytes: it needs 12 with the NUL */
	CHECK_EQ_INT(gcode_frame(buf, 11, 1, "M115", 4), -1);
	CHECK_STR(buf, "");
	CHECK_EQ_INT(gcode_frame(buf, 12, 1, "M115", 4), 11);
	CHECK_STR(buf, "N1 M115*39\n");
	CHECK_EQ_INT(gcode_frame(buf, 0, 1, "M115", 4), -1);
	/* the longest command with the largest line number fits GCODE_FRAME_MAX */
	memset(cmd, 'G', GCODE_CMD_MAX);
	cmd[GCODE_CMD_MAX] = '\0';
	CHECK(gcode_frame(buf, sizeof buf, 0x7fffffffL, cmd, GCODE_CMD_MAX) > GCODE_CMD_MAX);
}

static void test_unframe(void)
{
	long line;
	const char *cmd;
	size_t n;
	const char *s;

	s = "N1645 G1 X108.5 Y127.3 E480.88219*89";
	CHECK_EQ_INT(gcode_unframe(s, strlen(s), &line, &cmd, &n), GCODE_FRAME_OK);
	CHECK_EQ_INT(line, 1645);
	CHECK_EQ_UINT(n, strlen("G1 X108.5 Y127.3 E480.88219"));
	CHECK(cmd == s + 6);
	CHECK(strncmp(cmd, "G1 X108.5 Y127.3 E480.88219", n) == 0);
	s = "N0 M110 N0*125\r\n";
	CHECK_EQ_INT(gcode_unframe(s, strlen(s), &line, &cmd, &n), GCODE_FRAME_OK);
	CHECK_EQ_INT(line, 0);
	CHECK_EQ_UINT(n, 7);
	s = "  N1 M115*39  ";
	CHECK_EQ_INT(gcode_unframe(s, strlen(s), &line, &cmd, &n), GCODE_FRAME_OK);
	CHECK_EQ_INT(line, 1);
	CHECK(n == 4 && memcmp(cmd, "M115", 4) == 0);
	/* bare command */
	s = "M105";
	CHECK_EQ_INT(gcode_unframe(s, 4, &line, &cmd, &n), GCODE_FRAME_OK);
	CHECK_EQ_INT(line, -1);
	CHECK(cmd == s && n == 4);
	CHECK_EQ_INT(gcode_unframe("", 0, &line, &cmd, &n), GCODE_FRAME_OK);
	CHECK_EQ_INT(gcode_unframe(NULL, 0, &line, &cmd, &n), GCODE_FRAME_OK);
	CHECK_EQ_UINT(n, 0);
	CHECK_EQ_UINT(n, 0);
	/* errors, as the firmware reports them */
	s = "N1 M115*38";
	CHECK_EQ_INT(gcode_unframe(s, strlen(s), &line, &cmd, &n), GCODE_FRAME_BAD_CHECKSUM);
	CHECK_EQ_INT(line, 1);
	CHECK_EQ_UINT(n, 0);
	s = "N1 M115";
	CHECK_EQ_INT(gcode_unframe(s, strlen(s), &line, &cmd, &n), GCODE_FRAME_NO_CHECKSUM);
	CHECK_EQ_INT(line, 1);
	s = "M115*39";
	CHECK_EQ_INT(gcode_unframe(s, strlen(s), &line, &cmd, &n), GCODE_FRAME_NO_NUMBER);
	s = "N1 M115*";
	CHECK_EQ_INT(gcode_unframe(s, strlen(s), &line, &cmd, &n), GCODE_FRAME_SYNTAX);
	s = "N1 M115*256";
	CHECK_EQ_INT(gcode_unframe(s, strlen(s), &line, &cmd, &n), GCODE_FRAME_SYNTAX);
	s = "N1 M115*39x";
	CHECK_EQ_INT(gcode_unframe(s, strlen(s), &line, &cmd, &n), GCODE_FRAME_SYNTAX);
	s = "NX M115*39";
	CHECK_EQ_INT(gcode_unframe(s, strlen(s), &line, &cmd, &n), GCODE_FRAME_SYNTAX);
	s = "N1234567890123456789012 M115*39";
	CHECK_EQ_INT(gcode_unframe(s, strlen(s), &line, &cmd, &n), GCODE_FRAME_SYNTAX);
	/* never reads past len: the checksum digits are outside */
	s = "N1 M115*39";
	CHECK_EQ_INT(gcode_unframe(s, 8, &line, &cmd, &n), GCODE_FRAME_SYNTAX);
}

static void test_round_trip(void)
{
	static const char *const cmds[] = {
	    "M115",  "G28", "G1 X10 Y20 F3000", "M104 S210 T0",	 "M117 Hello, world (ok)",
	    "G29.1", "T1",  "M110 N0",		"G1 X-0.5 E.25",
	};
	char buf[GCODE_FRAME_MAX];

	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		for (long ln = 0; ln < 100000; ln = ln * 7 + 1) {
			long line;
			const char *cmd;
			size_t n, cl = strlen(cmds[i]);
			int r = gcode_frame(buf, sizeof buf, ln, cmds[i], cl);
			CHECK(r > 0 && buf[r - 1] == '\n');
			CHECK_EQ_INT(gcode_unframe(buf, (size_t)r, &line, &cmd, &n),
				     GCODE_FRAME_OK);
			CHECK_EQ_INT(line, ln);
			CHECK(n == cl && memcmp(cmd, cmds[i], n) == 0);
			/* any single flipped bit of the command part is caught */
			buf[r - 5 > 0 ? r - 5 : 0] ^= 0x01;
			CHECK(gcode_unframe(buf, (size_t)r, &line, &cmd, &n) != GCODE_FRAME_OK ||
			      buf[r - 5] == '*');
		}
}

/* Clean a C string; returns the result (static) or "(fail)". */
static const char *clean(const char *in)
{
	static char out[GCODE_CMD_MAX + 1];
	int r = gcode_clean(in, strlen(in), out, sizeof out);
	if (r < 0)
		return out[0] ? "(fail, out not empty)" : "(fail)";
	return (size_t)r == strlen(out) ? out : "(bad length)";
}

static void test_clean(void)
{
	char out[16];

	CHECK_STR(clean("G1 X10 ; move"), "G1 X10");
	CHECK_STR(clean("  G28\r"), "G28");
	CHECK_STR(clean("G28\r\n"), "G28");
	CHECK_STR(clean("; only a comment"), "");
	CHECK_STR(clean(""), "");
	CHECK_STR(clean("   \t  "), "");
	CHECK_STR(clean("G1 (inline) X5"), "G1  X5");
	CHECK_STR(clean("(whole line)"), "");
	CHECK_STR(clean("G1 X5 (unclosed"), "G1 X5");
	CHECK_STR(clean("M117 a;b"), "M117 a");
	CHECK_STR(clean("G1\tX5\t; tab"), "G1 X5");
	CHECK_STR(clean("G1 X5 ; \x01 control in a comment"), "G1 X5");
	CHECK_STR(clean("G1 (\x02) X5"), "G1  X5");
	CHECK_STR(clean("G1 \x01X5"), "(fail)");
	CHECK_STR(clean("G1\x7f"), "(fail)");
	CHECK_STR(clean("M117 h\xc3\xa9llo"), "M117 h\xc3\xa9llo"); /* UTF-8 kept */
	CHECK_EQ_INT(gcode_clean("G1 X\0"
				 "5",
				 5, out, sizeof out),
		     -1);
	CHECK_STR(out, "");
	/* length: exactly cap - 1 fits, trailing blanks do not count */
	CHECK_EQ_INT(gcode_clean("G1 X1234567890ab", 16, out, sizeof out), -1);
	CHECK_EQ_INT(gcode_clean("G1 X1234567890a", 15, out, sizeof out), 15);
	CHECK_EQ_INT(gcode_clean("G1 X1234567890a      ; c", 24, out, sizeof out), 15);
	CHECK_EQ_INT(gcode_clean("      G1 X1234567890a", 21, out, sizeof out), 15);
	CHECK_EQ_INT(gcode_clean("G1", 2, out, 0), -1);
	/* idempotent */
	{
		char once[GCODE_CMD_MAX + 1];
		snprintf(once, sizeof once, "%s", clean("  G1\t X5 (c) Y6 ; z"));
		CHECK_STR(once, "G1  X5  Y6");
		CHECK_STR(clean(once), "G1  X5  Y6");
	}
}

static void test_code_parse(void)
{
	gcode_code c;

	CHECK_EQ_INT(gcode_code_parse("G28", &c), 0);
	CHECK(c.letter == 'G' && c.number == 28 && c.sub == -1);
	CHECK_EQ_INT(gcode_code_parse("G29.1 P1", &c), 0);
	CHECK(c.letter == 'G' && c.number == 29 && c.sub == 1);
	CHECK_EQ_INT(gcode_code_parse("T1", &c), 0);
	CHECK(c.letter == 'T' && c.number == 1 && c.sub == -1);
	CHECK_EQ_INT(gcode_code_parse("m104 s200", &c), 0);
	CHECK(c.letter == 'M' && c.number == 104);
	CHECK_EQ_INT(gcode_code_parse("G1X10Y20", &c), 0);
	CHECK(c.letter == 'G' && c.number == 1);
	CHECK_EQ_INT(gcode_code_parse("M 500", &c), 0); /* Marlin skips the blank */
	CHECK(c.letter == 'M' && c.number == 500);
	CHECK_EQ_INT(gcode_code_parse("M0500", &c), 0);
	CHECK_EQ_INT(c.number, 500);
	CHECK_EQ_INT(gcode_code_parse("N10 M105", &c), 0); /* a numbered file line */
	CHECK(c.letter == 'M' && c.number == 105);
	CHECK_EQ_INT(gcode_code_parse("X10 Y5", &c), 0);
	CHECK_EQ_INT(c.letter, 0);
	CHECK_EQ_INT(gcode_code_parse("", &c), -1);
	CHECK_EQ_INT(gcode_code_parse("G", &c), -1);
	CHECK_EQ_INT(gcode_code_parse("Tx", &c), -1);
	CHECK_EQ_INT(gcode_code_parse("G1.", &c), -1);
	CHECK_EQ_INT(gcode_code_parse("G29.1.2", &c), -1);
	CHECK_EQ_INT(gcode_code_parse("M1234567", &c), -1);
	CHECK_EQ_INT(c.letter, 0);
}

static void test_param(void)
{
	double v = 0;

	CHECK_EQ_INT(gcode_param("M104 S200", 'S', &v), 1);
	CHECK_NEAR(v, 200, 0);
	CHECK_EQ_INT(gcode_param("G1 X108.5 Y127.3 E480.88219", 'E', &v), 1);
	CHECK_NEAR(v, 480.88219, 1e-12);
	CHECK_EQ_INT(gcode_param("G1 X108.5 Y127.3", 'y', &v), 1);
	CHECK_NEAR(v, 127.3, 1e-12);
	CHECK_EQ_INT(gcode_param("G1X10Y-20.5", 'Y', &v), 1);
	CHECK_NEAR(v, -20.5, 1e-12);
	CHECK_EQ_INT(gcode_param("G1 X.5", 'X', &v), 1);
	CHECK_NEAR(v, 0.5, 1e-12);
	CHECK_EQ_INT(gcode_param("M104 S 215", 'S', &v), 1); /* Marlin skips the blank */
	CHECK_NEAR(v, 215, 0);
	CHECK_EQ_INT(gcode_param("M106", 'S', &v), 0);
	CHECK_EQ_INT(gcode_param("G28 X Y", 'X', &v), 0);
	CHECK_EQ_INT(gcode_param("M104 Sabc", 'S', &v), 0);
	CHECK_EQ_INT(gcode_param("G1 X5", 'G', &v), 0); /* the code itself is no parameter */
	CHECK_EQ_INT(gcode_param("M110 N0", 'N', &v), 1);
	CHECK_NEAR(v, 0, 0);
	CHECK_EQ_INT(gcode_param("N7 G1 X3", 'N', &v), 0); /* the line number neither */
	CHECK_EQ_INT(gcode_param("X10 Y5", 'X', &v), 1);
	CHECK_NEAR(v, 10, 0);
	CHECK_EQ_INT(gcode_param("", 'X', &v), 0);
}

static void test_classify(void)
{
	static const struct {
		const char *cmd;
		gcode_class cls;
	} v[] = {
	    {"G1 X1", GCODE_CLASS_QUICK},	{"G28", GCODE_CLASS_HOMING},
	    {"G29", GCODE_CLASS_HOMING},	{"G29.1", GCODE_CLASS_HOMING},
	    {"G30", GCODE_CLASS_HOMING},	{"G34", GCODE_CLASS_HOMING},
	    {"M109 S200", GCODE_CLASS_HEATING}, {"M190 S60", GCODE_CLASS_HEATING},
	    {"M191 S40", GCODE_CLASS_HEATING},	{"M116", GCODE_CLASS_HEATING},
	    {"G4 S10", GCODE_CLASS_WAIT},	{"M400", GCODE_CLASS_WAIT},
	    {"M0", GCODE_CLASS_WAIT},		{"M1", GCODE_CLASS_WAIT},
	    {"M600", GCODE_CLASS_WAIT},		{"M104 S200", GCODE_CLASS_QUICK},
	    {"T0", GCODE_CLASS_QUICK},		{"M105", GCODE_CLASS_QUICK},
	};
	gcode_code c;

	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		CHECK_EQ_INT(gcode_code_parse(v[i].cmd, &c), 0);
		CHECK_MSG(gcode_classify(&c) == v[i].cls, v[i].cmd);
	}
	CHECK_EQ_INT(gcode_classify(NULL), GCODE_CLASS_QUICK);
}

static void test_policy_forbid(void)
{
	gcode_policy p = {0};
	char why[128];

	CHECK_EQ_INT(gcode_policy_forbid(&p, "M500, M502 M997 G29.1", why, sizeof why), 0);
	CHECK_EQ_INT(p.nforbidden, 4);
	CHECK(p.forbidden[0].letter == 'M' && p.forbidden[0].number == 500 &&
	      p.forbidden[0].sub == -1);
	CHECK(p.forbidden[3].letter == 'G' && p.forbidden[3].number == 29 &&
	      p.forbidden[3].sub == 1);
	CHECK_EQ_INT(gcode_policy_forbid(&p, " m303 ,, M500,M500 ", why, sizeof why), 0);
	CHECK_EQ_INT(p.nforbidden, 2); /* replaced, the duplicate kept once */
	CHECK_EQ_INT(gcode_policy_forbid(&p, "", why, sizeof why), 0);
	CHECK_EQ_INT(p.nforbidden, 0);
	CHECK_EQ_INT(gcode_policy_forbid(&p, "M500 X10", why, sizeof why), -1);
	CHECK_CONTAINS(why, "X10");
	CHECK_EQ_INT(p.nforbidden, 0); /* unchanged */
	CHECK_EQ_INT(gcode_policy_forbid(&p, "M500 M5O0", why, sizeof why), -1);
	CHECK_CONTAINS(why, "M5O0");
	CHECK_EQ_INT(gcode_policy_forbid(&p, "M500 G", why, sizeof why), -1);
	CHECK_EQ_INT(gcode_policy_forbid(&p, "N5", why, sizeof why), -1);
	CHECK_EQ_INT(gcode_policy_forbid(&p, "M500 S1", why, sizeof why), -1);
	{
		char list[1024] = "";
		for (int i = 0; i <= GCODE_POLICY_MAX; i++)
			snprintf(list + strlen(list), sizeof list - strlen(list), "M%d ", 700 + i);
		CHECK_EQ_INT(gcode_policy_forbid(&p, list, why, sizeof why), -1);
		CHECK_CONTAINS(why, "more than");
		list[strlen(list) - 5] = '\0'; /* drop the last one */
		CHECK_EQ_INT(gcode_policy_forbid(&p, list, why, sizeof why), 0);
		CHECK_EQ_INT(p.nforbidden, GCODE_POLICY_MAX);
	}
}

static void test_policy_check(void)
{
	gcode_policy p = {.max_hotend = 250, .max_bed = 100, .max_chamber = 60};
	char why[160];

	CHECK_EQ_INT(gcode_policy_forbid(&p, "M500 M502 M997 M303 G29.1 M928", why, sizeof why), 0);
	/* forbidden commands, with their purpose */
	CHECK_EQ_INT(gcode_policy_check(&p, "M500", why, sizeof why), -1);
	CHECK_STR(why, "M500 is not allowed (EEPROM write)");
	CHECK_EQ_INT(gcode_policy_check(&p, "M502", why, sizeof why), -1);
	CHECK_CONTAINS(why, "EEPROM write");
	CHECK_EQ_INT(gcode_policy_check(&p, "M997", why, sizeof why), -1);
	CHECK_STR(why, "M997 is not allowed (firmware update)");
	CHECK_EQ_INT(gcode_policy_check(&p, "M303 E0 S200 C8", why, sizeof why), -1);
	CHECK_STR(why, "M303 is not allowed (PID autotune)");
	CHECK_EQ_INT(gcode_policy_check(&p, "m500", why, sizeof why), -1);
	CHECK_EQ_INT(gcode_policy_check(&p, "M 500", why, sizeof why), -1);
	CHECK_EQ_INT(gcode_policy_check(&p, "M0500", why, sizeof why), -1);
	CHECK_EQ_INT(gcode_policy_check(&p, "M500.1", why, sizeof why), -1); /* all subcodes */
	CHECK_EQ_INT(gcode_policy_check(&p, "N12 M500", why, sizeof why), -1);
	CHECK_EQ_INT(gcode_policy_check(&p, "G29.1", why, sizeof why), -1);
	CHECK_STR(why, "G29.1 is not allowed (bed levelling)");
	CHECK_EQ_INT(gcode_policy_check(&p, "G29", why, sizeof why), 0); /* only .1 */
	CHECK_EQ_INT(gcode_policy_check(&p, "G29.2", why, sizeof why), 0);
	CHECK_EQ_INT(gcode_policy_check(&p, "M928 log.txt", why, sizeof why), -1);
	CHECK_STR(why, "M928 is not allowed (SD card logging)");
	CHECK_EQ_INT(gcode_policy_check(&p, "M503", why, sizeof why), 0);
	CHECK_STR(why, "");
	CHECK_EQ_INT(gcode_policy_forbid(&p, "M5000 M500 M303", why, sizeof why), 0);
	CHECK_EQ_INT(gcode_policy_check(&p, "M5000", why, sizeof why), -1);
	CHECK_STR(why, "M5000 is not allowed");
	/* temperatures */
	CHECK_EQ_INT(gcode_policy_check(&p, "M104 S300", why, sizeof why), -1);
	CHECK_STR(why, "M104 S300: hotend 300 °C is above the limit of 250 °C");
	CHECK_EQ_INT(gcode_policy_check(&p, "M104 S250", why, sizeof why), 0);
	CHECK_EQ_INT(gcode_policy_check(&p, "M109 R260.5", why, sizeof why), -1);
	CHECK_STR(why, "M109 R260.5: hotend 260.5 °C is above the limit of 250 °C");
	CHECK_EQ_INT(gcode_policy_check(&p, "M104 S200 B300 F0.1", why, sizeof why), -1);
	CHECK_CONTAINS(why, "300");
	CHECK_EQ_INT(gcode_policy_check(&p, "M104 T1 S210", why, sizeof why), 0);
	CHECK_EQ_INT(gcode_policy_check(&p, "M140 S110", why, sizeof why), -1);
	CHECK_STR(why, "M140 S110: bed 110 °C is above the limit of 100 °C");
	CHECK_EQ_INT(gcode_policy_check(&p, "M190 S60", why, sizeof why), 0);
	CHECK_EQ_INT(gcode_policy_check(&p, "M191 S70", why, sizeof why), -1);
	CHECK_CONTAINS(why, "chamber 70 °C");
	CHECK_CONTAINS(why, "limit of 60 °C");
	CHECK_EQ_INT(gcode_policy_check(&p, "M141 S50", why, sizeof why), 0);
	CHECK_EQ_INT(gcode_policy_check(&p, "G10 P0 S280", why, sizeof why), -1);
	CHECK_EQ_INT(gcode_policy_check(&p, "M568 P0 S200 R290", why, sizeof why), -1);
	/* forms a firmware reads differently, or twice */
	CHECK_EQ_INT(gcode_policy_check(&p, "M104 S100 S300", why, sizeof why), -1);
	CHECK_EQ_INT(gcode_policy_check(&p, "m104 s300", why, sizeof why), -1);
	CHECK_EQ_INT(gcode_policy_check(&p, "M 104 S300", why, sizeof why), -1);
	CHECK_EQ_INT(gcode_policy_check(&p, "M104 S 300", why, sizeof why), -1);
	CHECK_EQ_INT(gcode_policy_check(&p, "M104S300", why, sizeof why), -1);
	CHECK_EQ_INT(gcode_policy_check(&p, "M104 S0x12C", why, sizeof why), -1);
	CHECK_CONTAINS(why, "not a plain number");
	CHECK_CONTAINS(why, "0x12C");
	CHECK_EQ_INT(gcode_policy_check(&p, "M104 S3e2", why, sizeof why), -1);
	CHECK_EQ_INT(gcode_policy_check(&p, "M104 Sinf", why, sizeof why), -1);
	CHECK_EQ_INT(gcode_policy_check(&p, "M104 S", why, sizeof why), 0);
	CHECK_EQ_INT(gcode_policy_check(&p, "M104 S200 T0", why, sizeof why), 0);
	CHECK_EQ_INT(gcode_policy_check(&p, "M104 S200T0", why, sizeof why), 0);
	/* M303 is forbidden here; without it, its target is checked against its heater */
	CHECK_EQ_INT(gcode_policy_forbid(&p, "", why, sizeof why), 0);
	CHECK_EQ_INT(gcode_policy_check(&p, "M303 E0 S240 C8", why, sizeof why), 0);
	CHECK_EQ_INT(gcode_policy_check(&p, "M303 E-1 S120 C8", why, sizeof why), -1);
	CHECK_CONTAINS(why, "bed 120");
	/* no limit */
	p.max_hotend = 0;
	CHECK_EQ_INT(gcode_policy_check(&p, "M104 S400", why, sizeof why), 0);
	CHECK_EQ_INT(gcode_policy_check(&p, "M104 S0x12C", why, sizeof why), 0);
	/* passes */
	CHECK_EQ_INT(gcode_policy_check(&p, "", why, sizeof why), 0);
	CHECK_EQ_INT(gcode_policy_check(&p, "G1 X10 S300", why, sizeof why), 0);
	CHECK_EQ_INT(gcode_policy_check(&p, "X10", why, sizeof why), 0);
	CHECK_EQ_INT(gcode_policy_check(&p, "Tx", why, sizeof why), 0);
	CHECK_EQ_INT(gcode_policy_check(&p, "M140 S110", NULL, 0), -1);
	/* a short why buffer is truncated, NUL-terminated */
	CHECK_EQ_INT(gcode_policy_check(&p, "M140 S110", why, 8), -1);
	CHECK_STR(why, "M140 S1");
}

/* Feed a whole file line by line, as a driver does. */
static void feed(gcode_meta *m, const char *file)
{
	const char *p = file;

	gcode_meta_init(m);
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		gcode_meta_line(m, p, n, (long)(p - file));
		p += n + (nl ? 1 : 0);
	}
	gcode_meta_finish(m);
}

static void test_meta_prusa(void)
{
	static const char file[] =
	    "; generated by PrusaSlicer 2.6.0+linux-x64-GTK3 on 2023-08-06 at "
	    "12:00:00 UTC\n"
	    "\n"
	    ";\n"
	    "; thumbnail begin 16x16 12\r\n"
	    "; iVBORw0KGgo\r\n"
	    "; AAAA\r\n"
	    "; thumbnail end\r\n"
	    ";\n"
	    "; thumbnail_QOI begin 32x24 8\n"
	    "; cW9pZg==\n"
	    "; thumbnail_QOI end\n"
	    "M73 P0 R62\n"
	    "G28 ; home\n"
	    ";LAYER_CHANGE\n"
	    ";Z:0.2\n"
	    "G1 Z0.2\n"
	    ";LAYER_CHANGE\n"
	    ";Z:0.4\n"
	    "G1 Z0.4 (lift)\n"
	    "; filament used [mm] = 1234.5\n"
	    "; filament used [cm3] = 2.97\n"
	    "; filament used [g] = 3.7\n"
	    "; total filament used [g] = 3.7\n"
	    "; estimated printing time (normal mode) = 1h 2m 3s\n"
	    "; estimated printing time (silent mode) = 1h 10m 0s\n"
	    "; layer_height = 0.2\n";
	gcode_meta m;

	feed(&m, file);
	CHECK_STR(m.slicer, "PrusaSlicer 2.6.0+linux-x64-GTK3");
	CHECK_NEAR(m.time_s, 3723, 0);
	CHECK_NEAR(m.filament_mm, 1234.5, 1e-9);
	CHECK_NEAR(m.filament_g, 3.7, 1e-9);
	CHECK_EQ_INT(m.layers_seen, 2);
	CHECK_EQ_INT(m.layer_count, 2); /* counted */
	CHECK_EQ_INT(m.lines, 26);
	CHECK_EQ_INT(m.commands, 4);
	CHECK_EQ_INT(m.nthumbs, 2);
	CHECK_EQ_INT(m.in_thumb, 0);
	CHECK_EQ_INT(m.thumbs[0].width, 16);
	CHECK_EQ_INT(m.thumbs[0].height, 16);
	CHECK_EQ_INT(m.thumbs[0].length, 12);
	CHECK_EQ_INT(m.thumbs[0].first_line, 5);
	CHECK_EQ_INT(m.thumbs[0].begin_offset, strstr(file, "; iVBOR") - file);
	CHECK_EQ_INT(m.thumbs[0].end_offset, strstr(file, "; thumbnail end") - file);
	CHECK_EQ_INT(m.thumbs[1].width, 32);
	CHECK_EQ_INT(m.thumbs[1].height, 24);
	CHECK_EQ_INT(m.thumbs[1].length, 8);
	CHECK_EQ_INT(m.thumbs[1].first_line, 10);
	CHECK_EQ_INT(m.thumbs[1].begin_offset, strstr(file, "; cW9p") - file);
	CHECK_EQ_INT(m.thumbs[1].end_offset, strstr(file, "; thumbnail_QOI end") - file);
}

static void test_meta_cura(void)
{
	static const char file[] = ";FLAVOR:Marlin\n"
				   ";TIME:3723\n"
				   ";Filament used: 1.23456m\n"
				   ";Layer height: 0.2\n"
				   ";Generated with Cura_SteamEngine 5.4.0\n"
				   "M140 S60\n"
				   ";LAYER_COUNT:120\n"
				   ";LAYER:0\n"
				   "G0 F6000 X10 Y10 Z0.3\n"
				   ";LAYER:1\n"
				   "G1 X20 E1\n"
				   ";TIME_ELAPSED:12.5\n";
	gcode_meta m;

	feed(&m, file);
	CHECK_STR(m.slicer, "Cura_SteamEngine 5.4.0");
	CHECK_NEAR(m.time_s, 3723, 0);
	CHECK_NEAR(m.filament_mm, 1234.56, 1e-9);
	CHECK_NEAR(m.filament_g, -1, 0);
	CHECK_EQ_INT(m.layer_count, 120); /* declared wins */
	CHECK_EQ_INT(m.layers_seen, 2);
	CHECK_EQ_INT(m.commands, 3);
	CHECK_EQ_INT(m.nthumbs, 0);
	/* two extruders */
	feed(&m, ";Filament used: 1.5m, 0.25m\n");
	CHECK_NEAR(m.filament_mm, 1750, 1e-9);
	CHECK_EQ_INT(m.layer_count, -1);
}

static void test_meta_simplify3d(void)
{
	static const char file[] = "; G-Code generated by Simplify3D(R) Version 4.1.2\n"
				   "; Sep 12, 2023 at 10:00:00 AM\n"
				   ";   Build time: 1 hours 2 minutes\n"
				   ";   Filament length: 1234.5 mm (1.23 m)\n"
				   ";   Plastic weight: 3.70 g (0.01 lb)\n"
				   "G28\n"
				   "; layer 1, Z = 0.200\n"
				   "G1 Z0.2\n"
				   "; layer 2, Z = 0.400\n";
	gcode_meta m;

	feed(&m, file);
	CHECK_STR(m.slicer, "Simplify3D 4.1.2");
	CHECK_NEAR(m.time_s, 3720, 0);
	CHECK_NEAR(m.filament_mm, 1234.5, 1e-9);
	CHECK_NEAR(m.filament_g, 3.7, 1e-9);
	CHECK_EQ_INT(m.layer_count, 2);
}

static void test_meta_edge(void)
{
	gcode_meta m;

	/* unknown file */
	feed(&m, "G28\nG1 X1\n");
	CHECK_STR(m.slicer, "");
	CHECK_NEAR(m.time_s, -1, 0);
	CHECK_NEAR(m.filament_mm, -1, 0);
	CHECK_EQ_INT(m.layer_count, -1);
	CHECK_EQ_INT(m.commands, 2);
	/* the first slicer line wins; days; OrcaSlicer's total */
	feed(&m, "; generated by OrcaSlicer 1.8.0 on 2023-10-01 at 10:00:00\n"
		 "; generated by Other 1 on x\n"
		 "; estimated printing time (normal mode) = 1d 2h 3m 4s\n");
	CHECK_STR(m.slicer, "OrcaSlicer 1.8.0");
	CHECK_NEAR(m.time_s, 93784, 0);
	feed(&m, "; model printing time: 1h 2m 3s; total estimated time: 1h 5m 10s\n");
	CHECK_NEAR(m.time_s, 3910, 0);
	/* silent mode only when the normal one is missing */
	feed(&m, "; estimated printing time (silent mode) = 10m\n");
	CHECK_NEAR(m.time_s, 600, 0);
	/* a block without end, a block broken by a command, an empty block, malformed begins */
	feed(&m, "; thumbnail begin 16x16 4\n; AAAA\nG28\n; thumbnail end\n"
		 "; thumbnail begin 16x16 0\n; thumbnail end\n"
		 "; thumbnail begin 16 4\n; thumbnail begin axb 4\n"
		 "; thumbnail begin 8x8 4\n; AAAA\n");
	CHECK_EQ_INT(m.nthumbs, 0);
	/* more blocks than room: the first GCODE_THUMBS_MAX are kept */
	{
		char file[1024] = "";
		for (int i = 0; i < GCODE_THUMBS_MAX + 2; i++)
			snprintf(file + strlen(file), sizeof file - strlen(file),
				 "; thumbnail begin %dx%d 4\n; AAAA\n; thumbnail end\n", i + 1,
				 i + 1);
		strcat(file, ";LAYER:0\n");
		feed(&m, file);
		CHECK_EQ_INT(m.nthumbs, GCODE_THUMBS_MAX);
		CHECK_EQ_INT(m.thumbs[GCODE_THUMBS_MAX - 1].width, GCODE_THUMBS_MAX);
		CHECK_EQ_INT(m.layers_seen, 1);
	}
	/* a thumbnail's base64 that looks like a marker is data, not a layer */
	feed(&m, "; thumbnail begin 4x4 8\n; LAYER:0\n; thumbnail end\n");
	CHECK_EQ_INT(m.nthumbs, 1);
	CHECK_EQ_INT(m.layers_seen, 0);
	/* control bytes in the slicer name */
	feed(&m, ";Generated with Cura\x01X 1\n");
	CHECK_STR(m.slicer, "Cura?X 1");
	/* a long slicer name is truncated */
	feed(&m, ";Generated with 0123456789012345678901234567890123456789012345678901234567890123"
		 "456789\n");
	CHECK_EQ_UINT(strlen(m.slicer), sizeof m.slicer - 1);
	/* NULL lines count as lines and change nothing else */
	gcode_meta_init(&m);
	gcode_meta_line(&m, NULL, 0, 0);
	CHECK_EQ_INT(m.lines, 1);
	CHECK_EQ_INT(m.commands, 0);
	/* bytes past len are never read */
	gcode_meta_init(&m);
	gcode_meta_line(&m, ";TIME:12345", 8, 0);
	CHECK_NEAR(m.time_s, 12, 0);
}

/* What counts as a G-code command in a file: a G/M/T code, numbered or not; nothing else. */
static void test_is_command(void)
{
	static const char *const yes[] = {
	    "G28",  "G1 X10 Y5 E0.4 F1500", "g1x10",	"M104 S200", "T0", "N3 M105*36",
	    "G 28", "M117 solid c",	    "G29.1 P1", "m84"};
	static const char *const no[] = {"",
					 "solid c",
					 "facet normal 0 0 1",
					 "vertex 1 2 3",
					 "endloop",
					 "v 1 2 3",
					 "f 1 2 3",
					 "g cube",
					 "mtllib cube.mtl",
					 "X10",
					 "G",
					 "M1.2.3",
					 "N5",
					 "PRINT_START",
					 "# Blender",
					 "%"};

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		CHECK_MSG(gcode_is_command(yes[i]) == 1, yes[i]);
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		CHECK_MSG(gcode_is_command(no[i]) == 0, no[i]);
	CHECK_EQ_INT(gcode_is_command(NULL), 0);
}

/* A file's own "N<n> ... *<cs>" framing taken off, checked. */
static void test_strip_frame(void)
{
	char b[64] = "N7 M104 S200", c[64] = "G28", d[64] = "N3 G1 X5*1";
	char e[64] = "n4 T0", f[64] = "N5 G1*abc";
	char framed[64];
	int n = gcode_frame(framed, sizeof framed, 12, "G1 X5", 5);

	CHECK(n > 0);
	framed[n - 1] = '\0'; /* its line end */
	CHECK_EQ_INT(gcode_strip_frame(framed), 5);
	CHECK_STR(framed, "G1 X5");
	CHECK_EQ_INT(gcode_strip_frame(b), 9);
	CHECK_STR(b, "M104 S200");
	CHECK_EQ_INT(gcode_strip_frame(c), 3);
	CHECK_STR(c, "G28");
	CHECK_EQ_INT(gcode_strip_frame(e), 2);
	CHECK_STR(e, "T0");
	/* a wrong checksum, a malformed one: refused, the line left as it was */
	n = gcode_frame(d, sizeof d, 3, "G1 X5", 5);
	d[n - 1] = '\0';
	d[n - 2] = d[n - 2] == '9' ? '8' : (char)(d[n - 2] + 1);
	{
		char before[64];
		snprintf(before, sizeof before, "%s", d);
		CHECK_EQ_INT(gcode_strip_frame(d), -1);
		CHECK_STR(d, before);
	}
	CHECK_EQ_INT(gcode_strip_frame(f), -1);
	CHECK_STR(f, "N5 G1*abc");
	CHECK_EQ_INT(gcode_strip_frame(NULL), -1);
}

int main(void)
{
	RUN(test_checksum_vectors);
	RUN(test_frame_limits);
	RUN(test_unframe);
	RUN(test_round_trip);
	RUN(test_clean);
	RUN(test_code_parse);
	RUN(test_is_command);
	RUN(test_param);
	RUN(test_classify);
	RUN(test_policy_forbid);
	RUN(test_policy_check);
	RUN(test_meta_prusa);
	RUN(test_meta_cura);
	RUN(test_meta_simplify3d);
	RUN(test_meta_edge);
	RUN(test_strip_frame);
	return check_summary();
}
