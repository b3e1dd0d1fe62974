#include "capture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
		: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

struct line_mark {
	size_t off;     /* where the read's bytes begin in the stream */
	double time;
};

/* The timestamped form into raw bytes and read marks. */
static int untimestamp(struct sc_capture *c, const char *name, struct line_mark **marks,
		       size_t *nmarks, char *why, size_t cap)
{
	char *out = malloc(c->len / 2 + 1);
	size_t n = 0, nm = 0, capm = 64;
	struct line_mark *m = malloc(capm * sizeof *m);
	if (!out || !m) {
		free(out);
		free(m);
		snprintf(why, cap, "%s: out of memory", name);
		return -1;
	}
	const char *p = c->data, *end = c->data + c->len;
	size_t line = 0;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end;
		line++;
		if (le > p && le[-1] == '\r')
			le--;
		if (le == p || *p == '#') {
			p = eol ? eol + 1 : end;
			continue;
		}
		/* "<seconds> <hex>" */
		char num[48];
		const char *sp = memchr(p, ' ', (size_t)(le - p));
		size_t nl = sp ? (size_t)(sp - p) : 0;
		char *tail = NULL;
		double t = -1;
		if (sp && nl > 0 && nl < sizeof num) {
			memcpy(num, p, nl);
			num[nl] = '\0';
			errno = 0;
			t = strtod(num, &tail);
		}
		if (!sp || nl == 0 || nl >= sizeof num || errno || *tail || t < 0) {
			snprintf(why, cap, "%s: line %zu: not '<seconds> <hex bytes>'", name, line);
			free(out);
			free(m);
			return -1;
		}
		if (nm == capm) {
			struct line_mark *mm = realloc(m, capm * 2 * sizeof *m);
			if (!mm) {
				free(out);
				free(m);
				snprintf(why, cap, "%s: out of memory", name);
				return -1;
			}
			m = mm;
			capm *= 2;
		}
		m[nm++] = (struct line_mark){n, t};
		const char *h = sp + 1;
		if ((size_t)(le - h) % 2) {
			snprintf(why, cap, "%s: line %zu: an odd number of hex digits", name, line);
			free(out);
			free(m);
			return -1;
		}
		for (; h < le; h += 2) {
			int hi = hexval(h[0]), lo = hexval(h[1]);
			if (hi < 0 || lo < 0) {
				snprintf(why, cap, "%s: line %zu: '%c%c' is not a hex byte", name, line,
					 h[0], h[1]);
				free(out);
				free(m);
				return -1;
			}
			out[n++] = (char)(hi << 4 | lo);
		}
		p = eol ? eol + 1 : end;
	}
	free(c->data);
	c->data = out;
	c->len = n;
	*marks = m;
	*nmarks = nm;
	return 0;
}

static double time_at(const struct line_mark *m, size_t nm, size_t off)
{
	double t = -1;
	for (size_t i = 0; i < nm && m[i].off <= off; i++)
		t = m[i].time;
	return t;
}

/* Telegram by telegram, with the device's own parser. */
static int split(struct sc_capture *c, unsigned p1_flags, const struct line_mark *m, size_t nm,
		 const char *name, char *why, size_t cap)
{
	struct sc_tg_stream *st = sc_tg_stream_new(c->proto, p1_flags);
	struct sc_tg_event *ev = malloc(sizeof *ev);
	size_t capc = 64;
	c->chunks = malloc(capc * sizeof *c->chunks);
	if (!st || !ev || !c->chunks) {
		sc_tg_stream_free(st);
		free(ev);
		snprintf(why, cap, "%s: out of memory", name);
		return -1;
	}
	size_t start = 0, off = 0;
	for (;;) {
		enum sc_tg_kind k;
		if (off < c->len) {
			off += sc_tg_feed(st, c->data + off, c->len - off, ev);
			k = ev->kind;
		} else if ((k = sc_tg_finish(st, ev)) == SC_TG_NONE) {
			break;
		}
		if (k != SC_TG_OK && k != SC_TG_FAILED)
			continue;
		if (k == SC_TG_OK && ev->reading.flavour == SC_FLAVOUR_DSMR42)
			c->dsmr42 = true;
		size_t end = (size_t)(ev->offset + ev->length);
		if (end > c->len)
			end = c->len;
		if (end <= start)
			continue;
		if (c->n == capc) {
			struct sc_capture_chunk *cc = realloc(c->chunks, capc * 2 * sizeof *cc);
			if (!cc) {
				sc_tg_stream_free(st);
				free(ev);
				snprintf(why, cap, "%s: out of memory", name);
				return -1;
			}
			c->chunks = cc;
			capc *= 2;
		}
		struct sc_capture_chunk *ch = &c->chunks[c->n++];
		ch->off = start;
		ch->len = end - start;
		ch->ok = k == SC_TG_OK;
		ch->ts = k == SC_TG_OK && ev->reading.ts_set ? ev->reading.ts : -1;
		ch->line_time = m ? time_at(m, nm, (size_t)ev->offset) : -1;
		start = end;
	}
	/* Trailing bytes go with the last telegram. */
	if (start < c->len && c->n > 0)
		c->chunks[c->n - 1].len = c->len - c->chunks[c->n - 1].off;
	c->proto = st->proto;
	sc_tg_stream_free(st);
	free(ev);
	return 0;
}

int sc_capture_load(const char *path, enum sc_protocol proto, unsigned p1_flags, size_t max_bytes,
		    struct sc_capture *c, char *why, size_t cap)
{
	memset(c, 0, sizeof *c);
	c->proto = proto;
	FILE *raw = fopen(path, "rb");
	if (!raw) {
		snprintf(why, cap, "%s: %s", path, strerror(errno));
		return -1;
	}
	unsigned char magic[2] = {0, 0};
	c->gzipped = fread(magic, 1, 2, raw) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
	fclose(raw);
	/* zlib reads plain files through as they are. */
	gzFile f = gzopen(path, "rb");
	if (!f) {
		snprintf(why, cap, "%s: cannot open", path);
		return -1;
	}
	size_t capd = 1 << 16;
	c->data = malloc(capd);
	for (;;) {
		if (!c->data) {
			gzclose(f);
			snprintf(why, cap, "%s: out of memory", path);
			return -1;
		}
		int n = gzread(f, c->data + c->len, (unsigned)(capd - c->len));
		if (n < 0) {
			int e;
			const char *msg = gzerror(f, &e);
			snprintf(why, cap, "%s: %s", path, msg ? msg : "read error");
			gzclose(f);
			sc_capture_free(c);
			return -1;
		}
		if (n == 0) {
			/* A stream without its end: a recording cut short (the
			 * writer flushes every read), kept as far as it goes. */
			int e = Z_OK;
			gzerror(f, &e);
			c->cut_short = c->gzipped && e == Z_BUF_ERROR;
			break;
		}
		c->len += (size_t)n;
		if (c->len > max_bytes) {
			snprintf(why, cap, "%s: larger than %zu bytes", path, max_bytes);
			gzclose(f);
			sc_capture_free(c);
			return -1;
		}
		if (c->len == capd) {
			char *d = realloc(c->data, capd * 2);
			if (!d) {
				free(c->data);
				c->data = NULL;
				continue;
			}
			c->data = d;
			capd *= 2;
		}
	}
	gzclose(f);
	struct line_mark *marks = NULL;
	size_t nmarks = 0;
	size_t ml = strlen(SC_CAPTURE_MAGIC);
	if (c->len >= ml && memcmp(c->data, SC_CAPTURE_MAGIC, ml) == 0) {
		c->timestamped = true;
		if (untimestamp(c, path, &marks, &nmarks, why, cap) != 0) {
			sc_capture_free(c);
			return -1;
		}
	}
	int rc = split(c, p1_flags, marks, nmarks, path, why, cap);
	free(marks);
	if (rc != 0)
		sc_capture_free(c);
	return rc;
}

void sc_capture_free(struct sc_capture *c)
{
	free(c->data);
	free(c->chunks);
	memset(c, 0, sizeof *c);
}

/* ---- recording ---- */

struct sc_capture_writer {
	char path[256];
	FILE *f;             /* plain */
	gzFile gz;           /* .gz */
	unsigned long long reads;
	char *line;
	size_t cap;
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int put(struct sc_capture_writer *w, const char *buf, size_t n, char *why, size_t cap)
{
	if (w->gz) {
		if (gzwrite(w->gz, buf, (unsigned)n) != (int)n || gzflush(w->gz, Z_SYNC_FLUSH) != Z_OK) {
			int e;
			const char *m = gzerror(w->gz, &e);
			snprintf(why, cap, "%s: %s", w->path, e == Z_ERRNO ? strerror(errno) : m);
			return -1;
		}
		return 0;
	}
	if (fwrite(buf, 1, n, w->f) != n || fflush(w->f) != 0) {
		snprintf(why, cap, "%s: %s", w->path, strerror(errno));
		clearerr(w->f);
		return -1;
	}
	return 0;
}

struct sc_capture_writer *sc_capture_writer_open(const char *path, char *why, size_t cap)
{
	struct sc_capture_writer *w = calloc(1, sizeof *w);
	if (!w) {
		snprintf(why, cap, "out of memory");
		return NULL;
	}
	snprintf(w->path, sizeof w->path, "%s", path);
	if (ends_with(path, ".gz"))
		w->gz = gzopen(path, "wb");
	else
		w->f = fopen(path, "w");
	if (!w->gz && !w->f) {
		snprintf(why, cap, "%s: %s", path, strerror(errno ? errno : ENOMEM));
		free(w);
		return NULL;
	}
	static const char head[] = SC_CAPTURE_MAGIC "\n";
	if (put(w, head, sizeof head - 1, why, cap) != 0) {
		char ignored[8];
		sc_capture_writer_close(w, ignored, sizeof ignored);
		return NULL;
	}
	return w;
}

int sc_capture_writer_add(struct sc_capture_writer *w, double t, const void *data, size_t len,
			  char *why, size_t cap)
{
	if (len == 0)
		return 0;
	size_t need = 32 + 2 * len + 2;
	if (need > w->cap) {
		char *l = realloc(w->line, need);
		if (!l) {
			snprintf(why, cap, "out of memory");
			return -1;
		}
		w->line = l;
		w->cap = need;
	}
	static const char hex[] = "0123456789abcdef";
	int n = snprintf(w->line, w->cap, "%.3f ", t);
	size_t k = n > 0 ? (size_t)n : 0;
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		w->line[k++] = hex[p[i] >> 4];
		w->line[k++] = hex[p[i] & 15];
	}
	w->line[k++] = '\n';
	if (put(w, w->line, k, why, cap) != 0)
		return -1;
	w->reads++;
	return 0;
}

unsigned long long sc_capture_writer_count(const struct sc_capture_writer *w)
{
	return w->reads;
}

int sc_capture_writer_close(struct sc_capture_writer *w, char *why, size_t cap)
{
	if (!w)
		return 0;
	int rc = 0;
	if (w->gz) {
		int e = gzclose(w->gz);
		if (e != Z_OK) {
			snprintf(why, cap, "%s: closing failed (%d)", w->path, e);
			rc = -1;
		}
	} else if (w->f && fclose(w->f) != 0) {
		snprintf(why, cap, "%s: %s", w->path, strerror(errno));
		rc = -1;
	}
	free(w->line);
	free(w);
	return rc;
}
