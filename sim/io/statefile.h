/* The device's saved state (--state-dir): its configuration, password,
 * firmware version and HTTPS certificate, one file each. Every write is
 * atomic (a temporary file, fsync, rename, fsync of the directory): a crash
 * at any moment leaves the old file or the new one, never a mix. */
#ifndef SC_STATEFILE_H
#define SC_STATEFILE_H

#include <stdbool.h>
#include <stddef.h>

struct sc_state {
	char dir[512];   /* a longer path is refused at sc_state_open */
	bool on;  /* false: nothing is saved (no --state-dir) */
};

/* Creates the directory (0700) when missing. Returns 0, or -1 with why. */
int sc_state_open(struct sc_state *s, const char *dir, char *why, size_t cap);
/* A file's contents (malloc'd, NUL-terminated, *len without the NUL).
 * Returns 0, 1 when the file does not exist, -1 with why on errors. */
int sc_state_read(const struct sc_state *s, const char *name, char **data, size_t *len,
		  char *why, size_t cap);
/* Replaces a file atomically, mode 0600. Returns 0, or -1 with why (the old
 * file, if any, is untouched). */
int sc_state_write(const struct sc_state *s, const char *name, const void *data, size_t len,
		   char *why, size_t cap);
/* Any file replaced the same way (reports, recorded scenarios). */
int sc_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode, char *why,
			 size_t cap);
/* A whole file, NUL-terminated (malloc'd; its length in len), or NULL
 * with "PATH: No such file or directory" in why. */
char *sc_read_file(const char *path, size_t *len, char *why, size_t cap);
/* Removes a file (a factory reset); missing is fine. */
int sc_state_remove(const struct sc_state *s, const char *name, char *why, size_t cap);

#endif
