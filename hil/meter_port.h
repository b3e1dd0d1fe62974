/* The meter emulator: a USB-serial adapter (or a pty) wired to a dongle's
 * P1 or TIC input, written as a meter writes its line.
 *
 *  - Line settings of the protocol (P1-DSMR.md, TIC.md): 115200 8N1 for
 *    DSMR 4.2+/e-MUCS, 9600 7E1 for TIC standard mode; any other given.
 *  - Pacing: bytes leave at the line's rate (start bit, data bits, parity,
 *    stop bits per character), in small chunks, whatever the device: a pty
 *    has no baud rate of its own, a UART's driver would otherwise take a
 *    whole telegram into its buffer at once. `pace` < 1 runs the line that
 *    much faster (a twin under test on a faster clock; only a pty carries
 *    it). Telegrams are separated by at least `min_gap_s` of silence (TIC:
 *    16.7 ms between frames); groups of a frame go back to back.
 *  - Data Request (P1 pin 2): with `dr` set, a telegram goes out only while
 *    that modem line (CTS, DSR, DCD or RI) is high, and stops at once when
 *    it drops, as a meter does.
 *  - The adapter going away (a dongle powered from the P1 port restarts, a
 *    USB adapter re-enumerates, a pty's other side closes): reported, and
 *    the port is opened again, at most every `reopen_s`, when the next
 *    telegram is due; telegrams due meanwhile are not sent.
 *
 * Real ports go through libserialport; pseudo-terminals (a path that
 * resolves to /dev/pts/N, e.g. a socat link) through termios. Blocking: a
 * send returns when its last byte left (its line time).
 *
 * Threads: every call but close may come from any thread (a send from the
 * meter line's thread, meter_line.h, while another asks whether the port
 * is there); calls are taken one at a time, so one made during a send
 * waits for its end. Close once nothing else uses the port (the meter
 * line stopped). */
#ifndef SC_METER_PORT_H
#define SC_METER_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sc_line {
	int baud;             /* 1200 - 4000000 */
	int bits;             /* 5 - 8 */
	char parity;          /* 'N', 'E', 'O' */
	int stop;             /* 1, 2 */
};

/* "115200,8N1", "9600,7E1", "115200-8N1". 0, or -1 with why. */
int sc_line_parse(const char *spec, struct sc_line *l, char *why, size_t cap);
/* "115200,8N1" */
void sc_line_format(const struct sc_line *l, char *buf, size_t cap);
/* Seconds one character takes on the line: (1 + bits + parity + stop) / baud. */
double sc_line_char_s(const struct sc_line *l);
/* The protocol's line: P1 (DSMR 4.2+, e-MUCS) 115200 8N1, TIC 9600 7E1. */
struct sc_line sc_line_for(bool tic);

enum sc_data_request { SC_DR_NONE = 0, SC_DR_CTS, SC_DR_DSR, SC_DR_DCD, SC_DR_RI };

/* "none", "cts", "dsr", "dcd", "ri": 0, or -1. */
int sc_data_request_parse(const char *s, enum sc_data_request *dr);
const char *sc_data_request_name(enum sc_data_request dr);

struct sc_meter_port_opts {
	const char *path;     /* /dev/ttyUSB0, /dev/serial/by-id/..., a pty or its link */
	struct sc_line line;
	enum sc_data_request dr;
	double pace;          /* line time multiplier: 1 (0 means 1); 0.1 = ten times faster */
	double min_gap_s;     /* silence between telegrams */
	double reopen_s;      /* between attempts to open a port that went away (0: 0.5) */
	/* A line for the operator ("meter port /dev/ttyUSB0 gone (EIO); reopening"). */
	void (*log)(void *arg, const char *line);
	void *log_arg;
	/* Where Data Request is read: NULL reads the port's modem line `dr`;
	 * a rig that senses it elsewhere (or a test) gives its own. Returns 1
	 * high, 0 low, -1 cannot be read. */
	int (*read_dr)(void *arg);
	void *read_dr_arg;
};

struct sc_meter_port_stats {
	uint64_t telegrams;       /* sent whole */
	uint64_t bytes;           /* written */
	uint64_t not_sent_gone;   /* due while the port was away */
	uint64_t not_sent_dr;     /* due while Data Request was low */
	uint64_t cut_short_dr;    /* stopped when Data Request dropped */
	unsigned reopens;         /* times the port came back */
	double longest_away_s;    /* the longest time it was away */
	double max_telegram_s;    /* first byte to last of the slowest telegram */
};

struct sc_meter_port;

/* Opens and configures the port (it must be there at the start). NULL with
 * why ("/dev/ttyUSB0: No such file or directory", "/dev/pts/3: data
 * request: the port has no modem lines"). */
struct sc_meter_port *sc_meter_port_open(const struct sc_meter_port_opts *o, char *why, size_t cap);
/* One telegram on the line, paced. 0 when it went out whole; 1 when it did
 * not (why: the port is away, Data Request is low, or dropped after N
 * bytes); -1 on an error that is not the port going away. */
int sc_meter_port_send(struct sc_meter_port *p, const void *data, size_t len, char *why, size_t cap);
/* Seconds since the port last came back after going away (INFINITY when
 * it never went): a device on the other side may not listen yet. */
double sc_meter_port_since_back(struct sc_meter_port *p);
/* The monotonic time (s) the first byte of the last send left (after the
 * silence between telegrams); when it sent nothing, when it was called.
 * NAN before the first send. */
double sc_meter_port_last_start(struct sc_meter_port *p);
/* Whether the port is open now (it may have gone away since the last send). */
bool sc_meter_port_present(struct sc_meter_port *p);
/* The figures so far. The pointer stays valid until close; read through
 * it only while no send is under way (e.g. once the meter line that sends
 * stopped); _get copies them at any time. */
const struct sc_meter_port_stats *sc_meter_port_stats(const struct sc_meter_port *p);
void sc_meter_port_stats_get(struct sc_meter_port *p, struct sc_meter_port_stats *out);
/* The Data Request line now: 1 high, 0 low, -1 cannot be read (no line
 * chosen, or the port has no modem lines). */
int sc_meter_port_data_request(struct sc_meter_port *p);
void sc_meter_port_close(struct sc_meter_port *p);

#endif
