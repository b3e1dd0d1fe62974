/* The project's own generated captures (corpus/p1, listed in its MANIFEST):
 * sc-telegram gen must still make the same bytes, and the parser, mapping
 * and JSON must still give the recorded power_instant lines, for P1 and TIC
 * alike. An intended
 * change is recorded with scripts/regen-corpus.sh. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "payload.h"
#include "slurp.h"
#include "telegram.h"

#define DIR SC_SOURCE_DIR "/corpus"
#define TOOL SC_BINARY_DIR "/sim/sc-telegram"

/* JSON lines of every good telegram in a capture, joined. */
static char *parse_to_jsonl(const char *data, size_t len, int *failed)
{
	struct sc_tg_stream *s = sc_tg_stream_new(SC_PROTO_AUTO, 0);
	struct sc_tg_event *ev = malloc(sizeof *ev);
	size_t cap = 1 << 20, used = 0;
	char *out = malloc(cap);
	out[0] = '\0';
	*failed = 0;
	for (size_t off = 0;;) {
		if (off < len)
			off += sc_tg_feed(s, data + off, len - off, ev);
		else if (sc_tg_finish(s, ev) == SC_TG_NONE)
			break;
		if (ev->kind == SC_TG_OK) {
			int n = sc_payload_power_instant_text(&ev->reading, out + used, cap - used - 1);
			cr_assert_gt(n, 0);
			used += (size_t)n;
			out[used++] = '\n';
			out[used] = '\0';
		} else if (ev->kind == SC_TG_FAILED) {
			(*failed)++;
		}
	}
	sc_tg_stream_free(s);
	free(ev);
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
		char *dot = strrchr(path, '.');
		snprintf(dot, sizeof path - (size_t)(dot - path), ".expected.jsonl");
		char *expected = slurp(path, &elen);
		int failed;
		char *got = parse_to_jsonl(data, len, &failed);
		cr_assert_str_eq(got, expected, "%s parses differently from its .expected.jsonl", file);
		if (strstr(args, "bad-c"))
			cr_assert_gt(failed, 0, "%s: its faults are reported", file);
		else
			cr_assert_eq(failed, 0, "%s", file);
		free(data);
		free(expected);
		free(got);
		entries++;
	}
	cr_assert_geq(entries, 10);
	free(manifest);
}
