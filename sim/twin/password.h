/* The device's login password, as the label on a real unit prints it:
 * eight characters from a set without look-alikes (no i, l, o, 0, 1). One
 * generator for a twin's first start and for a fleet's shared password. */
#ifndef SC_PASSWORD_H
#define SC_PASSWORD_H

#include <stddef.h>

#define SC_PASSWORD_LEN 8

/* A new password from the kernel's random source into out (cap >= 9).
 * Returns 0, or a negative sc_err with why: without randomness there is no
 * password (a guessable one would open the device's API to anyone). */
int sc_password_new(char *out, size_t cap, char *why, size_t wcap);

#endif
