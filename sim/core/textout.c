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
	/* Two digits at a time, written backwards from the end of tmp. */
	static const char pairs[] = "00010203040506070809101112131415161718192021222324"
				    "25262728293031323334353637383940414243444546474849"
				    "50515253545556575859606162636465666768697071727374"
				    "75767778798081828384858687888990919293949596979899";
	char tmp[24];
	char *end = tmp + sizeof tmp, *p = end;
	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);
		v /= 100;
		p -= 2;
		memcpy(p, pairs + 2 * r, 2);
	}
	if (v >= 10) {
		p -= 2;
		memcpy(p, pairs + 2 * v, 2);
	} else {
		*--p = (char)('0' + v);
	}
	while (end - p < width && p > tmp)
		*--p = '0';
	sc_out_mem(w, p, (size_t)(end - p));
}

void sc_out_hex(struct sc_out *w, uint64_t v, int digits)
{
	static const char hex[] = "0123456789ABCDEF";
	for (int i = digits - 1; i >= 0; i--)
		sc_out_ch(w, hex[(v >> (4 * i)) & 15]);
}
