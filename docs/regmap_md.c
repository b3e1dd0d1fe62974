/* Build-time tool: prints the Modbus register map of the core
 * (sim/core/regmap.c, the one place that knows it) as the Markdown table of
 * docs/reference/registers.md. docs/tables.py puts it there and the
 * docs_tables test fails when the document is not this output. */
#include <stdio.h>

#include "reading.h"
#include "regmap.h"

/* "active_power_l1" -> "active power L1", "reactive_energy_q1" -> "... Q1". */
static void meaning(const char *name)
{
	for (const char *p = name; *p; p++) {
		if (*p == '_')
			putchar(' ');
		else if ((*p == 'l' || *p == 'q') && (p == name || p[-1] == '_') && p[1] >= '1' &&
			 p[1] <= '4' && (p[2] == '\0' || p[2] == '_'))
			putchar(*p - 'a' + 'A');
		else
			putchar(*p);
	}
}

int main(void)
{
	size_t n;
	const struct sc_regdef *d = sc_regmap_defs(&n);
	puts("| address | decimal | function | type | unit | name | meaning | `power_instant` |");
	puts("|---|---|---|---|---|---|---|---|");
	for (size_t i = 0; i < n; i++) {
		printf("| 0x%04X | %u | 0x03, 0x04 | float32 | ", d[i].addr, d[i].addr);
		if (d[i].unit[0] == '\0')
			fputs("| ", stdout);
		else if (!d[i].phase && (d[i].q == SC_RQ_E_IMPORT || d[i].q == SC_RQ_E_EXPORT))
			printf("%s (kWh before firmware 5.1) | ", d[i].unit);
		else
			printf("%s | ", d[i].unit);
		printf("`%s` | ", d[i].name);
		meaning(d[i].name);
		if (d[i].phase)
			printf(" | `l%d.%s` |\n", d[i].ph + 1, sc_pq_name((enum sc_pq)d[i].q));
		else
			printf(" | `%s` |\n", sc_rq_name((enum sc_rq)d[i].q));
	}
	return ferror(stdout) || fflush(stdout) ? 1 : 0;
}
