/* TIC throughput: the Linky standard-mode consumer frame of the field corpus
 * (or a capture given as argument) repeated to at least 100 MB in memory,
 * fed through the TIC parser in 64 KiB chunks on one core. Stages:
 *   frame+checksum+decode  framing, every group checked and decoded (sc_tic_feed)
 *   parse+checksum+map     + mapping to the device reading (sc_tic_to_reading) */
#include "bench_util.h"
#include "tic.h"

static struct sc_tic_parser parser;
static struct sc_tic_result res;
static volatile double sink;

static unsigned long run(const char *data, size_t len, bool map, unsigned long *bad)
{
	unsigned long ok = 0;
	struct sc_reading r;
	memset(&parser, 0, sizeof parser);
	*bad = 0;
	for (size_t off = 0; off < len;) {
		size_t chunk = len - off < 65536 ? len - off : 65536;
		const char *d = data + off;
		off += chunk;
		while (chunk > 0) {
			size_t used = sc_tic_feed(&parser, d, chunk, &res);
			d += used;
			chunk -= used;
			if (res.event == SC_TIC_NEED_MORE)
				continue;
			if (res.event != SC_TIC_FRAME) {
				(*bad)++;
				continue;
			}
			ok++;
			if (map) {
				sc_tic_to_reading(&res.frame, res.raw, &r);
				sink += r.q[SC_RQ_P].v;
			} else {
				sink += res.frame.sinsts.v;
			}
		}
	}
	while (sc_tic_finish(&parser, &res) != SC_TIC_NEED_MORE)
		(*bad)++;
	return ok;
}

static unsigned long run_frame(const char *d, size_t n, unsigned long *bad)
{
	return run(d, n, false, bad);
}

static unsigned long run_map(const char *d, size_t n, unsigned long *bad)
{
	return run(d, n, true, bad);
}

int main(int argc, char **argv)
{
	struct bench b = {"TIC", "frames", SC_CORPUS_DIR "/tic/standard-mono-consumer-base.tic",
			  NULL, 100, NULL, 0, 0};
	struct bench_stage st[] = {
		{"frame+checksum+decode", run_frame, 0, 0, 0},
		{"parse+checksum+map", run_map, 0, 0, 0},
	};
	int rc = bench_setup(&b, argc, argv);
	return rc ? rc : bench_run(&b, st, (int)(sizeof st / sizeof st[0]));
}
