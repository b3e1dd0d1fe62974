/* Log lines to stderr: "sc-sim: LEVEL: text". One level threshold per process.
 * Bounded: a message (one format string at one level) is written at most 200
 * times in 10 s, then counted and summarised once the 10 s are over ("N more
 * like this in the last 10 s: LAST"). Never blocking: lines stderr cannot take
 * at once wait in a 64 KiB buffer (then are dropped and counted), written by
 * the next log call, and at exit for up to 1 s. Thread-safe. */
#ifndef SC_LOG_H
#define SC_LOG_H

enum sc_log_level { SC_LOG_ERROR, SC_LOG_WARN, SC_LOG_INFO, SC_LOG_DEBUG };

void sc_log_set_level(enum sc_log_level level);
/* "error", "warn", "info", "debug"; -1 when unknown. */
int sc_log_level_from_name(const char *name);
void sc_log_set_prog(const char *prog);

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void sc_log(enum sc_log_level level, const char *fmt, ...);

#endif
