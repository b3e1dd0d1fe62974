/* Build-time tool: turns a program's help text (man/help/PROGRAM.txt, the
 * one source of its options) into a C header defining
 *
 *   static void FUNCTION(FILE *f);   writes the text to f
 *
 *   help_header FUNCTION FILE > out.h
 *
 * The text is copied byte for byte, except that @NAME@ becomes the C macro
 * NAME spliced into the string (" NAME "), for defaults the program defines
 * once (e.g. @DEFAULT_FIRMWARE@). It is cut at blank lines into string
 * literals of at most 4095 bytes, the longest a C99 compiler must take; a
 * longer paragraph is an error. */
#include <stdio.h>
#include <string.h>

#define LITERAL_MAX 4095

static int is_macro_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: help_header FUNCTION FILE\n");
		return 2;
	}
	FILE *f = fopen(argv[2], "rb");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	printf("/* Generated from %s by sim/tools/help_header.c: edit that file. */\n"
	       "#include <stddef.h>\n#include <stdio.h>\n\n"
	       "static void %s(FILE *f)\n{\n\tstatic const char *const parts[] = {\n\t\t\"",
	       argv[2], argv[1]);
	char line[1024];
	size_t part = 0; /* bytes of the current literal, macros not counted */
	int lineno = 0, rc = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		size_t n = strlen(line);
		if (n == sizeof line - 1 && line[n - 1] != '\n') {
			fprintf(stderr, "%s:%d: line longer than %zu bytes\n", argv[2], lineno,
				sizeof line - 2);
			rc = 1;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			char c = line[i];
			if (c == '@') {
				size_t j = i + 1;
				while (j < n && is_macro_char(line[j]))
					j++;
				if (j < n && line[j] == '@' && j > i + 1) {
					printf("\" %.*s \"", (int)(j - i - 1), line + i + 1);
					i = j;
					continue;
				}
			}
			if (c == '\n')
				fputs("\\n", stdout);
			else if (c == '"' || c == '\\')
				printf("\\%c", c);
			else if (c == '?')
				fputs("\\?", stdout); /* no trigraphs */
			else if ((unsigned char)c < 0x20 || c == 0x7f)
				printf("\\%03o", (unsigned char)c);
			else
				putchar(c);
			part++;
		}
		if (part > LITERAL_MAX - 16) {
			fprintf(stderr, "%s:%d: paragraph longer than %d bytes: add a blank line\n",
				argv[2], lineno, LITERAL_MAX - 16);
			rc = 1;
			break;
		}
		if (strcmp(line, "\n") == 0) {
			/* A blank line ends a literal. */
			fputs("\",\n\t\t\"", stdout);
			part = 0;
		} else {
			fputs("\"\n\t\t\"", stdout);
		}
	}
	if (ferror(f)) {
		perror(argv[2]);
		rc = 1;
	}
	fclose(f);
	printf("\",\n\t};\n\tfor (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)\n"
	       "\t\tfputs(parts[i], f);\n}\n");
	if (ferror(stdout) || fflush(stdout))
		rc = 1;
	return rc;
}
