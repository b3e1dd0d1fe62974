#include "textout.h"

#include <string.h>

void sc_out_mem(struct sc_out *w, const void *s, size_t n)
{
	if (w->full || n > w->cap - w->len) {
		w->full = true;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

void sc_out_str(struct sc_out *w, const char *s)
{
	sc_out_mem(w, s, strlen(s));
}

void sc_out_ch(struct sc_out *w, char c)
{
	sc_out_mem(w, &c, 1);
}

void sc_out_uint(struct sc_out *w, uint64_t v, int width)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n < width && n < (int)sizeof tmp)
		tmp[n++] = '0';
	char rev[24];
	for (int i = 0; i < n; i++)
		rev[i] = tmp[n - 1 - i];
	sc_out_mem(w, rev, (size_t)n);
}

void sc_out_hex(struct sc_out *w, uint64_t v, int digits)
{
	static const char hex[] = "0123456789ABCDEF";
	for (int i = digits - 1; i >= 0; i--)
		sc_out_ch(w, hex[(v >> (4 * i)) & 15]);
}
