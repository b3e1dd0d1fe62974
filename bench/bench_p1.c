/* P1 throughput: the Iskra AM550 field capture repeated to at least 100 MB in
 * memory, fed through the incremental parser in 64 KiB chunks (as from a file)
 * on one core. Stages measured separately:
 *   frame+crc+decode     framing, CRC-16 and object decoding (sc_p1_feed)
 *   parse+crc+map        + mapping to the device reading (sc_p1_to_reading)
 *   + register image     + the Modbus register image (sc_regmap_build)
 *   + power_instant json + the JSON text (cJSON) */
#include "bench_util.h"
#include "p1.h"
#include "payload.h"
#include "regmap.h"

enum stage { FRAME, MAP, REGS, JSON };

static struct sc_p1_parser parser;
static struct sc_p1_result res;
static volatile double sink;

static unsigned long run(const char *data, size_t len, enum stage st, unsigned long *bad)
{
	unsigned long ok = 0;
	struct sc_reading r;
	struct sc_regmap m;
	char json[4096];
	memset(&parser, 0, sizeof parser);
	*bad = 0;
	for (size_t off = 0; off < len;) {
		size_t chunk = len - off < 65536 ? len - off : 65536;
		const char *d = data + off;
		off += chunk;
		while (chunk > 0) {
			size_t used = sc_p1_feed(&parser, d, chunk, &res);
			d += used;
			chunk -= used;
			if (res.event == SC_P1_NEED_MORE)
				continue;
			if (res.event != SC_P1_TELEGRAM) {
				(*bad)++;
				continue;
			}
			ok++;
			if (st == FRAME) {
				sink += res.tg.power_import.v;
				continue;
			}
			sc_p1_to_reading(&res.tg, res.raw, &r);
			sink += r.q[SC_RQ_P].v;
			if (st >= REGS) {
				sc_regmap_build(&m, &r, NULL);
				sink += m.w[0x16];
			}
			if (st >= JSON)
				sink += sc_payload_power_instant_text(&r, json, sizeof json);
		}
	}
	while (sc_p1_finish(&parser, &res) != SC_P1_NEED_MORE)
		(*bad)++;
	return ok;
}

static unsigned long run_frame(const char *d, size_t n, unsigned long *bad)
{
	return run(d, n, FRAME, bad);
}

static unsigned long run_map(const char *d, size_t n, unsigned long *bad)
{
	return run(d, n, MAP, bad);
}

static unsigned long run_regs(const char *d, size_t n, unsigned long *bad)
{
	return run(d, n, REGS, bad);
}

static unsigned long run_json(const char *d, size_t n, unsigned long *bad)
{
	return run(d, n, JSON, bad);
}

int main(int argc, char **argv)
{
	struct bench b = {"P1", "telegrams",
			  SC_CORPUS_DIR "/p1/dsmr50-iskra-am550-566-telegrams.p1", NULL, 100,
			  NULL, 0, 0};
	struct bench_stage st[] = {
		{"frame+crc+decode", run_frame, 0, 0, 0},
		{"parse+crc+map", run_map, 0, 0, 0},
		{"+ register image", run_regs, 0, 0, 0},
		{"+ power_instant json", run_json, 0, 0, 0},
	};
	int rc = bench_setup(&b, argc, argv);
	return rc ? rc : bench_run(&b, st, (int)(sizeof st / sizeof st[0]));
}
