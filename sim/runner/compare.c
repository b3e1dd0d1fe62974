/* Comparisons and difference lists of the runner (see compare.h). */
#include "compare.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool sc_cmp_f32(double want, double got)
{
	if (isnan(want) || isnan(got))
		return false;
	float fw = (float)want, fg = (float)got;
	/* Beyond float32's range no float32 holds it: only itself. */
	if (isfinite(want) && isinf(fw))
		return got == want;
	if (fw == fg)
		return true;
	if (isinf(fw) || isinf(fg))
		return false;
	/* One step of float32 either side of want's float32. */
	double up = (double)nextafterf(fw, INFINITY) - (double)fw;
	double down = (double)fw - (double)nextafterf(fw, -INFINITY);
	double d = got - (double)fw;
	return d >= 0 ? d <= up : -d <= down;
}

/* Room kept for the tail " (N more)". */
#define SC_LIST_TAIL 16

void sc_list_init(struct sc_list *l, char *buf, size_t cap)
{
	l->buf = buf;
	l->cap = cap;
	l->used = 0;
	l->n = 0;
	l->more = 0;
	if (cap)
		buf[0] = '\0';
}

void sc_list_add(struct sc_list *l, const char *item)
{
	size_t sep = l->n ? 2 : 0;
	size_t len = strlen(item);
	/* Once one is left out, the later ones are too: the list keeps its order. */
	if (l->more || l->used + sep + len + SC_LIST_TAIL >= l->cap) {
		l->more++;
		return;
	}
	if (sep)
		memcpy(l->buf + l->used, ", ", 2);
	memcpy(l->buf + l->used + sep, item, len + 1);
	l->used += sep + len;
	l->n++;
}

void sc_list_end(struct sc_list *l)
{
	if (!l->more || !l->cap)
		return;
	int w = snprintf(l->buf + l->used, l->cap - l->used, "%s(%d more)", l->n ? " " : "",
			 l->more);
	if (w > 0)
		l->used += (size_t)w < l->cap - l->used ? (size_t)w : l->cap - l->used - 1;
}

void sc_text_fit(char *dst, size_t cap, const char *src)
{
	if (!cap)
		return;
	size_t len = strlen(src);
	if (len < cap) {
		memcpy(dst, src, len + 1);
		return;
	}
	/* The last ", " before which the kept part and its tail fit. */
	size_t cut = 0;
	for (size_t i = 0; i + 1 < len && i + SC_LIST_TAIL < cap; i++)
		if (src[i] == ',' && src[i + 1] == ' ')
			cut = i;
	int more = 0;
	for (size_t i = cut; i + 1 < len; i++)
		if (src[i] == ',' && src[i + 1] == ' ')
			more++;
	if (cut == 0 || more == 0) {
		/* No separator to cut at: say so rather than cut a number. */
		snprintf(dst, cap, "(%zu characters, too long to show)", len);
		return;
	}
	memcpy(dst, src, cut);
	snprintf(dst + cut, cap - cut, " (%d more)", more);
}

/* snprintf that may cut (keys and values here are short; a cut one is
 * still whole as an item). */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void fmt(char *dst, size_t cap, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	vsnprintf(dst, cap, f, ap);
	va_end(ap);
}

static void describe(const cJSON *v, char *buf, size_t cap)
{
	if (!v) {
		fmt(buf, cap, "(missing)");
		return;
	}
	char *t = cJSON_PrintUnformatted(v);
	fmt(buf, cap, "%s", t ? t : "?");
	free(t);
}

static void payload_at(const cJSON *want, const cJSON *got, struct sc_list *diffs,
		       const char *prefix, double ts_window, double wall)
{
	/* A device sends the fields in the order they are wanted: while every
	 * field so far was the next one in got, the next one in got is the
	 * first of its name there (the wanted names are distinct) and no
	 * search is needed. */
	const cJSON *next = cJSON_IsObject(got) ? got->child : NULL;
	bool in_order = true;
	for (const cJSON *w = want->child; w; w = w->next) {
		const cJSON *g;
		if (in_order && next && next->string && strcmp(next->string, w->string) == 0) {
			g = next;
			next = next->next;
		} else {
			in_order = false;
			g = cJSON_GetObjectItemCaseSensitive(got, w->string);
		}
		char key[64];
		if (cJSON_IsObject(w)) {
			fmt(key, sizeof key, "%s%s", prefix, w->string);
			if (!cJSON_IsObject(g)) {
				char item[96];
				fmt(item, sizeof item, "%s missing", key);
				sc_list_add(diffs, item);
				continue;
			}
			char p[64];
			fmt(p, sizeof p, "%s.", key);
			payload_at(w, g, diffs, p, ts_window, wall);
			continue;
		}
		bool own_clock = ts_window > 0 && !*prefix && strcmp(w->string, "ts") == 0;
		bool ok;
		if (own_clock)
			ok = cJSON_IsNumber(g) && fabs(g->valuedouble - wall) <= ts_window;
		else
			ok = cJSON_IsNull(w) ? cJSON_IsNull(g)
			     : cJSON_IsNumber(w) && cJSON_IsNumber(g) &&
				       sc_cmp_f32(w->valuedouble, g->valuedouble);
		if (!ok) {
			char gt[48], wt[64], item[176];
			fmt(key, sizeof key, "%s%s", prefix, w->string);
			describe(g, gt, sizeof gt);
			if (own_clock)
				fmt(wt, sizeof wt, "the unit's clock %.0f +- %g", wall, ts_window);
			else
				describe(w, wt, sizeof wt);
			fmt(item, sizeof item, "%s %s (want %s)", key, gt, wt);
			sc_list_add(diffs, item);
		}
	}
}

void sc_cmp_payload(const cJSON *want, const cJSON *got, struct sc_list *diffs, double ts_window,
		    double wall)
{
	payload_at(want, got, diffs, "", ts_window, wall);
}

bool sc_counter_is_gauge(const char *name)
{
	static const char *const gauges[] = {"uptime", "heap_free", "heap_min_free",
					     "heap_largest_free"};
	for (size_t i = 0; i < sizeof gauges / sizeof gauges[0]; i++)
		if (strcmp(name, gauges[i]) == 0)
			return true;
	return false;
}

/* Did the device restart between base and now? */
static bool counters_restarted(const cJSON *now, const cJSON *base)
{
	const cJSON *n;
	cJSON_ArrayForEach(n, now)
	{
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(base, n->string);
		if (!cJSON_IsNumber(n) || !cJSON_IsNumber(b))
			continue;
		bool gauge = sc_counter_is_gauge(n->string);
		if (gauge && strcmp(n->string, "uptime") == 0 && n->valuedouble < b->valuedouble)
			return true;
		if (!gauge && n->valuedouble < b->valuedouble)
			return true;
	}
	return false;
}

cJSON *sc_counters_since(const cJSON *now, const cJSON *base)
{
	if (!cJSON_IsObject(now))
		return NULL;
	cJSON *out = cJSON_CreateObject();
	if (!out)
		return NULL;
	bool since = cJSON_IsObject(base) && !counters_restarted(now, base);
	const cJSON *n;
	cJSON_ArrayForEach(n, now)
	{
		const cJSON *b = since ? cJSON_GetObjectItemCaseSensitive(base, n->string) : NULL;
		cJSON *v;
		if (cJSON_IsNumber(n) && cJSON_IsNumber(b) && !sc_counter_is_gauge(n->string))
			v = cJSON_CreateNumber(n->valuedouble - b->valuedouble);
		else
			v = cJSON_Duplicate(n, true);
		if (!v || !cJSON_AddItemToObject(out, n->string, v)) {
			cJSON_Delete(v);
			cJSON_Delete(out);
			return NULL;
		}
	}
	return out;
}
