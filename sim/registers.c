/* sc-telegram registers (registers.h): every register of the core's map
 * (regmap.h, the one source) with what an integrator types into evcc, Home
 * Assistant, an Alfen charger or mbpoll. */
#include "registers.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "reading.h"
#include "regmap.h"

/* usage(FILE *): the text of man/help/sc-telegram-registers.txt, generated at
 * build time. */
#include "help/sc-telegram-registers.h"

#define EXIT_USAGE 2

enum fmt { FMT_TEXT, FMT_JSON, FMT_CSV, FMT_MARKDOWN };

/* The served word order and its switch, as sc-sim's --word-order names them. */
#define WORD_ORDER "CD AB"
#define WORD_ORDER_SWITCH "AB CD with sc-sim --word-order abcd"

/* One register as the reference shows it. */
struct row {
	char hex[8];
	unsigned dec, one_based;
	const char *unit;
	const char *unit_before_5_1; /* firmware before 5.1 served energy in kWh */
	char key[16];                /* its power_instant field */
	const struct sc_regdef *d;
};

static void row_of(const struct sc_regdef *d, struct row *r)
{
	snprintf(r->hex, sizeof r->hex, "0x%04X", d->addr);
	r->dec = d->addr;
	r->one_based = d->addr + 1u;
	r->unit = d->unit;
	bool energy = !d->phase && (d->q == SC_RQ_E_IMPORT || d->q == SC_RQ_E_EXPORT);
	r->unit_before_5_1 = energy ? "kWh" : d->unit;
	if (d->phase)
		snprintf(r->key, sizeof r->key, "l%d.%s", d->ph + 1, sc_pq_name((enum sc_pq)d->q));
	else
		snprintf(r->key, sizeof r->key, "%s", sc_rq_name((enum sc_rq)d->q));
	r->d = d;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void print_json(const struct row *rows, size_t n)
{
	puts("[");
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		printf("  {\"name\": ");
		json_str(r->d->name);
		printf(", \"hex\": \"%s\", \"address\": %u, \"one_based\": %u, "
		       "\"functions\": [3, 4], \"type\": \"float32\", \"registers\": 2, "
		       "\"word_order\": \"" WORD_ORDER "\", \"unit\": ",
		       r->hex, r->dec, r->one_based);
		json_str(r->unit);
		printf(", \"unit_before_5_1\": ");
		json_str(r->unit_before_5_1);
		printf(", \"scale\": 1, \"power_instant\": ");
		json_str(r->key);
		printf(", \"meaning\": ");
		json_str(r->d->what);
		printf(", \"p1\": ");
		json_str(r->d->p1);
		printf(", \"tic\": ");
		json_str(r->d->tic);
		printf("}%s\n", i + 1 < n ? "," : "");
	}
	puts("]");
}

/* A CSV field (RFC 4180): quoted when it holds a comma, a quote or a space. */
static void csv_field(const char *s, bool last)
{
	if (strpbrk(s, ",\" ")) {
		putchar('"');
		for (; *s; s++) {
			if (*s == '"')
				putchar('"');
			putchar(*s);
		}
		putchar('"');
	} else {
		fputs(s, stdout);
	}
	putchar(last ? '\n' : ',');
}

static void print_csv(const struct row *rows, size_t n)
{
	puts("name,hex,address,one_based,functions,type,word_order,unit,unit_before_5_1,scale,"
	     "power_instant,meaning,p1,tic");
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		printf("%s,%s,%u,%u,3 4,float32,", r->d->name, r->hex, r->dec, r->one_based);
		csv_field(WORD_ORDER, false);
		csv_field(r->unit, false);
		csv_field(r->unit_before_5_1, false);
		csv_field("1", false);
		csv_field(r->key, false);
		csv_field(r->d->what, false);
		csv_field(r->d->p1, false);
		csv_field(r->d->tic, true);
	}
}

/* Markdown cell text: a '|' would end the cell. */
static void md_text(const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			putchar('\\');
		putchar(*s);
	}
}

static void md_code(const char *s)
{
	if (!*s) {
		fputs("-", stdout);
		return;
	}
	putchar('`');
	md_text(s);
	putchar('`');
}

static void print_markdown(const struct row *rows, size_t n)
{
	puts("| hex | decimal | 1-based | unit | name | meaning | `power_instant` | P1 | TIC |");
	puts("|---|---|---|---|---|---|---|---|---|");
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		printf("| %s | %u | %u | ", r->hex, r->dec, r->one_based);
		if (!*r->unit)
			fputs("- | ", stdout);
		else if (strcmp(r->unit, r->unit_before_5_1) != 0)
			printf("%s (%s before firmware 5.1) | ", r->unit, r->unit_before_5_1);
		else
			printf("%s | ", r->unit);
		printf("`%s` | ", r->d->name);
		md_text(r->d->what);
		printf(" | `%s` | ", r->key);
		md_code(r->d->p1);
		fputs(" | ", stdout);
		md_code(r->d->tic);
		puts(" |");
	}
}

static void print_text(const struct row *rows, size_t n)
{
	puts("Modbus TCP registers of the Smart Connect (a Phoenix Contact EMpro map).\n"
	     "Every value: IEEE 754 float32 in 2 registers, word order " WORD_ORDER "\n"
	     "(low word first; " WORD_ORDER_SWITCH "), function 3 (holding)\n"
	     "or 4 (input), the same data; any unit id. Values in the unit shown (scale 1);\n"
	     "energy in Wh, kWh before firmware 5.1. 'dec' is the protocol's 0-based\n"
	     "address (evcc, Home Assistant, pymodbus, Alfen; mbpoll -0 -r DEC),\n"
	     "'1-based' what mbpoll takes without -0.\n");
	const char *head[] = {"hex", "dec", "1-based", "unit", "name", "power_instant", "P1",
			      "TIC", "meaning"};
	enum { NCOL = 9 };
	size_t w[NCOL];
	for (int c = 0; c < NCOL; c++)
		w[c] = strlen(head[c]);
	char dec[12], one[12];
	const char *cells[NCOL];
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			for (int c = 0; c < NCOL; c++)
				printf("%-*s%s", c + 1 < NCOL ? (int)w[c] : 0, head[c],
				       c + 1 < NCOL ? "  " : "\n");
		}
		for (size_t i = 0; i < n; i++) {
			const struct row *r = &rows[i];
			snprintf(dec, sizeof dec, "%u", r->dec);
			snprintf(one, sizeof one, "%u", r->one_based);
			cells[0] = r->hex;
			cells[1] = dec;
			cells[2] = one;
			cells[3] = *r->unit ? r->unit : "-";
			cells[4] = r->d->name;
			cells[5] = r->key;
			cells[6] = *r->d->p1 ? r->d->p1 : "-";
			cells[7] = *r->d->tic ? r->d->tic : "-";
			cells[8] = r->d->what;
			for (int c = 0; c < NCOL; c++) {
				if (pass == 0) {
					if (strlen(cells[c]) > w[c])
						w[c] = strlen(cells[c]);
				} else {
					printf("%-*s%s", c + 1 < NCOL ? (int)w[c] : 0, cells[c],
					       c + 1 < NCOL ? "  " : "\n");
				}
			}
		}
	}
}

int sc_cmd_registers(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"format", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	enum fmt fmt = FMT_TEXT;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (strcmp(optarg, "text") == 0)
				fmt = FMT_TEXT;
			else if (strcmp(optarg, "json") == 0)
				fmt = FMT_JSON;
			else if (strcmp(optarg, "csv") == 0)
				fmt = FMT_CSV;
			else if (strcmp(optarg, "markdown") == 0)
				fmt = FMT_MARKDOWN;
			else {
				fprintf(stderr, "sc-telegram registers: --format: '%s' is not text, "
						"json, csv or markdown\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			fprintf(stderr, "sc-telegram registers: %s needs an argument\n",
				argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "sc-telegram registers: unknown option '%s'\n",
				argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sc-telegram registers: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	size_t n;
	const struct sc_regdef *defs = sc_regmap_defs(&n);
	struct row rows[SC_REGMAP_WORDS / 2];
	if (n > sizeof rows / sizeof rows[0])
		n = sizeof rows / sizeof rows[0];
	for (size_t i = 0; i < n; i++)
		row_of(&defs[i], &rows[i]);
	switch (fmt) {
	case FMT_TEXT:
		print_text(rows, n);
		break;
	case FMT_JSON:
		print_json(rows, n);
		break;
	case FMT_CSV:
		print_csv(rows, n);
		break;
	case FMT_MARKDOWN:
		print_markdown(rows, n);
		break;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "sc-telegram registers: write error on standard output\n");
		return EXIT_USAGE;
	}
	return 0;
}
