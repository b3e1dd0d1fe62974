/* Build-time tool: a program's options, written once in man/help/NAME.txt,
 * as its --help text and as the option terms of its manual page.
 *
 *   help_header header FUNCTION FILE   a C header defining
 *                                      static void FUNCTION(FILE *f),
 *                                      which writes the --help text to f
 *   help_header text FILE              the --help text
 *   help_header options FILE           the option groups for the manual
 *                                      page (scdoc), which man/CMakeLists.txt
 *                                      puts where the page says %options NAME%
 *   help_header terms FILE             the same without the groups' headings
 *                                      (%terms NAME%: one command's options)
 *
 * The file (lines; every line ends with a newline):
 *
 *   Usage: ...            the head: every line before the first group,
 *                         printed by --help as it is
 *   == TITLE              a group: the page prints "## TITLE", --help
 *                         "TITLE:" or, when the group has text of its own
 *                         (": " lines below it), that text instead
 *   - TERM                an option (or a command) and its argument, e.g.
 *                         "- --source SPEC", "- -o, --output FILE"
 *   : text                --help's text of the entry above (its first line
 *                         beside the term, the others below it, aligned), or
 *                         of the group above
 *   <TAB>text             the manual page's text of the entry (scdoc); a
 *                         lone TAB is a blank line between its paragraphs
 *   ==                    the end of the groups: what follows is the tail,
 *                         printed by --help as it is
 *
 * Blank lines between entries do not count. An entry without --help text is
 * the page's only, one without page text --help's only. A file without
 * groups is all head. In the page's terms an upper-case word is a
 * placeholder (_SPEC_), any other word literal (*--source*, *cdab*).
 *
 * In the --help text @NAME@ stands for the C macro NAME, spliced into the
 * string (" NAME "), for defaults the program defines once; `text` leaves
 * it as it is. Literals are cut at blank lines and before 3,000 bytes, well
 * below the 4,095 a C99 compiler must take. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINES 4096
#define LINE_MAX_LEN 1024
#define PART_MAX 3000
#define TERM_COL_MAX 25 /* the help text's column, after the two-space indent */

static char *lines[MAX_LINES];
static size_t nlines;
static const char *path;

/* The rendered --help text. */
static char *out;
static size_t out_len, out_cap;

static void die(size_t lineno, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s:%zu: ", path, lineno);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void put(const char *s, size_t n)
{
	if (out_len + n + 1 > out_cap) {
		out_cap = (out_len + n + 1) * 2;
		out = realloc(out, out_cap);
		if (!out) {
			perror("help_header");
			exit(1);
		}
	}
	memcpy(out + out_len, s, n);
	out_len += n;
	out[out_len] = '\0';
}

static void puts_out(const char *s)
{
	put(s, strlen(s));
}

static void spaces(size_t n)
{
	for (size_t i = 0; i < n; i++)
		put(" ", 1);
}

static void load(void)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(1);
	}
	char buf[LINE_MAX_LEN + 2];
	while (fgets(buf, sizeof buf, f)) {
		size_t n = strlen(buf);
		if (n == 0 || buf[n - 1] != '\n')
			die(nlines + 1, "line longer than %d bytes, or no newline at the end",
			    LINE_MAX_LEN);
		buf[n - 1] = '\0';
		if (nlines == MAX_LINES)
			die(nlines, "more than %d lines", MAX_LINES);
		lines[nlines] = strdup(buf);
		if (!lines[nlines]) {
			perror("help_header");
			exit(1);
		}
		nlines++;
	}
	if (ferror(f)) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

static bool is_group(const char *l)
{
	return strncmp(l, "== ", 3) == 0 && l[3];
}

static bool is_end(const char *l)
{
	return strcmp(l, "==") == 0;
}

static bool is_entry(const char *l)
{
	return strncmp(l, "- ", 2) == 0 && l[2];
}

static bool is_help(const char *l)
{
	return l[0] == ':' && (l[1] == ' ' || l[1] == '\0');
}

static const char *help_text(const char *l)
{
	return l[1] ? l + 2 : "";
}

/* The column of the entries' --help text: after the longest term of the
 * file and two spaces, leaving out terms too long for TERM_COL_MAX (their
 * text starts on the next line). */
static size_t term_column(size_t from)
{
	size_t col = 0;
	for (size_t i = from; i < nlines && !is_end(lines[i]); i++)
		if (is_entry(lines[i]) && strlen(lines[i] + 2) + 2 > col &&
		    strlen(lines[i] + 2) + 2 <= TERM_COL_MAX)
			col = strlen(lines[i] + 2) + 2;
	return col;
}

static void render_text(void)
{
	size_t i = 0;
	while (i < nlines && !is_group(lines[i])) {
		if (is_end(lines[i]) || is_entry(lines[i]))
			die(i + 1, "an entry or '==' before the first group ('== TITLE')");
		puts_out(lines[i++]);
		puts_out("\n");
	}
	if (i == nlines)
		return;
	size_t col = term_column(i);
	bool first_group = true;
	for (; i < nlines && !is_end(lines[i]); i++) {
		const char *l = lines[i];
		if (is_group(l)) {
			if (!first_group)
				puts_out("\n");
			first_group = false;
			if (i + 1 == nlines || !is_help(lines[i + 1])) {
				puts_out(l + 3);
				puts_out(":\n");
			}
			for (; i + 1 < nlines && is_help(lines[i + 1]); i++) {
				puts_out(help_text(lines[i + 1]));
				puts_out("\n");
			}
		} else if (is_entry(l)) {
			const char *term = l + 2;
			size_t first = i + 1, n = 0;
			while (first + n < nlines && (is_help(lines[first + n]) || lines[first + n][0] == '\t'))
				n++;
			bool beside = strlen(term) + 2 <= col;
			bool any = false;
			for (size_t k = first; k < first + n; k++) {
				if (!is_help(lines[k]))
					continue;
				if (!any) {
					spaces(2);
					puts_out(term);
					if (beside)
						spaces(col - strlen(term));
					else {
						puts_out("\n");
						spaces(2 + col);
					}
					any = true;
				} else {
					spaces(2 + col);
				}
				puts_out(help_text(lines[k]));
				puts_out("\n");
			}
			i = first + n - 1;
		} else if (l[0] == '\t' || is_help(l)) {
			die(i + 1, "text outside an entry");
		} else if (l[0] != '\0') {
			die(i + 1, "not a group, an entry, its text or a blank line");
		}
	}
	if (i < nlines) {
		puts_out("\n");
		for (i++; i < nlines; i++) {
			puts_out(lines[i]);
			puts_out("\n");
		}
	}
}

/* A term as scdoc: placeholders (upper-case words) underlined, other words
 * bold, punctuation as it is. */
static void scdoc_term(const char *t)
{
	while (*t) {
		size_t n = 0;
		if (*t >= 'A' && *t <= 'Z') {
			while (t[n] && ((t[n] >= 'A' && t[n] <= 'Z') || (t[n] >= '0' && t[n] <= '9') ||
					t[n] == '_' || (t[n] == '.' && t[n + 1] >= 'A' && t[n + 1] <= 'Z')))
				n++;
			printf("_%.*s_", (int)n, t);
		} else if ((*t >= 'a' && *t <= 'z') || (*t >= '0' && *t <= '9') ||
			   (*t == '-' && t[1] && t[1] != ' ')) {
			while (t[n] && ((t[n] >= 'a' && t[n] <= 'z') || (t[n] >= '0' && t[n] <= '9') ||
					t[n] == '-' || (t[n] == '.' && t[n + 1] >= 'a' && t[n + 1] <= 'z')))
				n++;
			printf("*%.*s*", (int)n, t);
		} else {
			n = 1;
			if (*t == '*' || *t == '_' || *t == '\\')
				putchar('\\');
			putchar(*t);
		}
		t += n;
	}
	putchar('\n');
}

static void render_scdoc(bool headings)
{
	size_t i = 0;
	while (i < nlines && !is_group(lines[i]))
		i++;
	if (i == nlines)
		die(nlines, "no group ('== TITLE'): nothing for the manual page");
	for (; i < nlines && !is_end(lines[i]); i++) {
		const char *l = lines[i];
		if (is_group(l)) {
			if (headings)
				printf("## %s\n\n", l + 3);
		} else if (is_entry(l)) {
			size_t k = i + 1;
			bool page = false;
			for (size_t j = k; j < nlines && (is_help(lines[j]) || lines[j][0] == '\t'); j++)
				page = page || lines[j][0] == '\t';
			if (page)
				scdoc_term(l + 2);
			for (; k < nlines && (is_help(lines[k]) || lines[k][0] == '\t'); k++)
				if (lines[k][0] == '\t')
					printf("%s\n", strcmp(lines[k], "\t") == 0 ? "" : lines[k]);
			if (page)
				putchar('\n');
			i = k - 1;
		}
	}
}

/* The text as C string literals, @NAME@ spliced in as the macro NAME. */
static void render_header(const char *function)
{
	printf("/* Generated from %s by sim/tools/help_header.c: edit that file. */\n"
	       "#include <stddef.h>\n#include <stdio.h>\n\n"
	       "static void %s(FILE *f)\n{\n\tstatic const char *const parts[] = {\n\t\t\"",
	       path, function);
	size_t part = 0;
	for (const char *p = out; *p; p++) {
		if (*p == '@') {
			size_t j = 1;
			while ((p[j] >= 'A' && p[j] <= 'Z') || (p[j] >= '0' && p[j] <= '9') || p[j] == '_')
				j++;
			if (p[j] == '@' && j > 1) {
				printf("\" %.*s \"", (int)(j - 1), p + 1);
				p += j;
				continue;
			}
		}
		if (*p == '\n') {
			fputs("\\n\"", stdout);
			bool blank = p > out && p[-1] == '\n';
			if (p[1] && (blank || part > PART_MAX)) {
				fputs(",\n\t\t\"", stdout);
				part = 0;
			} else if (p[1]) {
				fputs("\n\t\t\"", stdout);
			}
			continue;
		}
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p == '?')
			fputs("\\?", stdout); /* no trigraphs */
		else if ((unsigned char)*p < 0x20 || *p == 0x7f)
			printf("\\%03o", (unsigned char)*p);
		else
			putchar(*p);
		part++;
	}
	if (out_len == 0 || out[out_len - 1] != '\n')
		putchar('"');
	printf(",\n\t};\n\tfor (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)\n"
	       "\t\tfputs(parts[i], f);\n}\n");
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (!((strcmp(mode, "header") == 0 && argc == 4) ||
	      ((strcmp(mode, "text") == 0 || strcmp(mode, "options") == 0 || strcmp(mode, "terms") == 0) &&
	       argc == 3))) {
		fprintf(stderr,
			"usage: help_header header FUNCTION FILE | text FILE | options FILE | terms FILE\n");
		return 2;
	}
	path = argv[argc - 1];
	load();
	render_text();
	if (!out)
		die(0, "empty");
	if (strcmp(mode, "text") == 0)
		fputs(out, stdout);
	else if (strcmp(mode, "options") == 0 || strcmp(mode, "terms") == 0)
		render_scdoc(strcmp(mode, "options") == 0);
	else
		render_header(argv[2]);
	return ferror(stdout) || fflush(stdout) ? 1 : 0;
}
