/* The device's login password (password.h), from /dev/urandom. */
#include "password.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "sc_error.h"

int sc_password_new(char *out, size_t cap, char *why, size_t wcap)
{
	static const char set[] = "abcdefghjkmnpqrstuvwxyz23456789";
	unsigned char r[SC_PASSWORD_LEN];
	if (cap < SC_PASSWORD_LEN + 1) {
		snprintf(why, wcap, "no room for the password");
		return SC_ERR_INVAL;
	}
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, r, sizeof r) : -1;
	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)sizeof r) {
		snprintf(why, wcap, "cannot read /dev/urandom for the password");
		return SC_ERR_IO;
	}
	for (size_t i = 0; i < sizeof r; i++)
		out[i] = set[r[i] % (sizeof set - 1)];
	out[SC_PASSWORD_LEN] = '\0';
	return SC_OK;
}
