/* The project's own generated captures (corpus/p1, listed in its MANIFEST):
 * sc-telegram gen must still make the same bytes, and the parser, mapping
 * and JSON must still give the recorded power_instant lines. An intended
 * change is recorded with scripts/regen-corpus.sh. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "p1.h"
#include "payload.h"

#define DIR SC_SOURCE_DIR "/corpus/p1"
#define TOOL SC_BINARY_DIR "/sim/sc-telegram"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	*len = fread(s, 1, (size_t)n, f);
	s[*len] = '\0';
	fclose(f);
	return s;
}

/* JSON lines of every good telegram in a capture, joined. */
static char *parse_to_jsonl(const char *data, size_t len, int *failed)
{
	struct sc_p1_parser *p = calloc(1, sizeof *p);
	struct sc_p1_result *res = malloc(sizeof *res);
	size_t cap = 1 << 20, used = 0;
	char *out = malloc(cap);
	out[0] = '\0';
	*failed = 0;
	for (size_t off = 0;;) {
		enum sc_p1_event ev;
		if (off < len) {
			off += sc_p1_feed(p, data + off, len - off, res);
			ev = res->event;
		} else if ((ev = sc_p1_finish(p, res)) == SC_P1_NEED_MORE) {
			break;
		}
		if (ev == SC_P1_TELEGRAM) {
			struct sc_reading r;
			sc_p1_to_reading(&res->tg, res->raw, &r);
			int n = sc_payload_power_instant_text(&r, out + used, cap - used - 1);
			cr_assert_gt(n, 0);
			used += (size_t)n;
			out[used++] = '\n';
			out[used] = '\0';
		} else if (ev != SC_P1_NEED_MORE && ev != SC_P1_GARBAGE) {
			(*failed)++;
		}
	}
	free(p);
	free(res);
	return out;
}

Test(corpus_golden, manifest_files_are_reproduced_and_parse_as_recorded)
{
	size_t mlen;
	char *manifest = slurp(DIR "/MANIFEST", &mlen);
	int entries = 0;
	for (char *line = strtok(manifest, "\n"); line; line = strtok(NULL, "\n")) {
		if (line[0] == '#' || line[0] == '\0')
			continue;
		char *tab = strchr(line, '\t');
		cr_assert_not_null(tab, "MANIFEST line without a tab: %s", line);
		*tab = '\0';
		const char *file = line, *args = tab + 1;
		char path[512], cmd[1024];
		snprintf(path, sizeof path, "%s/%s", DIR, file);

		snprintf(cmd, sizeof cmd, "'%s' gen %s | cmp -s - '%s'", TOOL, args, path);
		int st = system(cmd);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			  "sc-telegram gen %s no longer reproduces %s", args, file);

		size_t len, elen;
		char *data = slurp(path, &len);
		snprintf(path + strlen(path) - 3, 32, ".expected.jsonl");
		char *expected = slurp(path, &elen);
		int failed;
		char *got = parse_to_jsonl(data, len, &failed);
		cr_assert_str_eq(got, expected, "%s parses differently from its .expected.jsonl", file);
		if (strstr(args, "bad-crc"))
			cr_assert_gt(failed, 0, "%s: its faults are reported", file);
		else
			cr_assert_eq(failed, 0, "%s", file);
		free(data);
		free(expected);
		free(got);
		entries++;
	}
	cr_assert_geq(entries, 6);
	free(manifest);
}
