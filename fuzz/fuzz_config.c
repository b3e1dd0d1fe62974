/* libFuzzer target: the configuration PATCH validator (config.h) on the
 * factory configuration, and the saved-configuration loader: whatever the
 * bytes, a refused PATCH leaves the configuration as it was, and an accepted
 * one is saved and loads back as itself. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char a[16384], b[16384];

/* The document with secrets, as saved; traps when it cannot be written. */
static int doc(const struct sc_config *c, char *out)
{
	int n = sc_config_write(c, true, out, sizeof a);
	if (n < 0)
		__builtin_trap();
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sc_config c, back;
	struct sc_config_error e;
	sc_config_defaults(&c);
	int before = doc(&c, a);
	if (sc_config_patch(&c, (const char *)data, size, &e) != 0) {
		if (doc(&c, b) != before || memcmp(a, b, (size_t)before) != 0)
			__builtin_trap(); /* a refused PATCH changed something */
	} else {
		int n = doc(&c, a);
		sc_config_defaults(&back);
		if (sc_config_load(&back, a, (size_t)n, &e) != 0)
			__builtin_trap(); /* what is saved does not load */
		if (doc(&back, b) != n || memcmp(a, b, (size_t)n) != 0)
			__builtin_trap(); /* and not as itself */
	}
	sc_config_defaults(&back);
	sc_config_load(&back, (const char *)data, size, &e);
	return 0;
}
