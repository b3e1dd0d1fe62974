/* libFuzzer target: scenario files (scenarios/README.md) as text: loaded
 * and validated whole, then, when valid, every expectation described as
 * the runner's PASS/FAIL lines do. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sc_scenario *s = NULL;
	char err[512];
	if (sc_scenario_load((const char *)data, size, "fuzz.json", &s, err, sizeof err) == 0) {
		char buf[256];
		for (int i = 0; i < s->nsteps; i++)
			for (int k = 0; k < s->steps[i].nexpect; k++)
				for (int m = 0; m < s->steps[i].expect[k].nm; m++)
					sc_match_describe(&s->steps[i].expect[k].m[m], buf, sizeof buf);
		sc_scenario_free(s);
	} else if (s) {
		__builtin_trap(); /* a failed load hands nothing out */
	}
	return 0;
}
