#include "statefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int path_of(const struct sc_state *s, const char *name, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/%s", s->dir, name);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int sc_state_open(struct sc_state *s, const char *dir, char *why, size_t cap)
{
	memset(s, 0, sizeof *s);
	if (strlen(dir) + 64 >= sizeof s->dir) {
		snprintf(why, cap, "%s: path too long", dir);
		return -1;
	}
	memcpy(s->dir, dir, strlen(dir) + 1);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(why, cap, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(why, cap, "%s is not a directory", dir);
		return -1;
	}
	s->on = true;
	return 0;
}

int sc_state_read(const struct sc_state *s, const char *name, char **data, size_t *len,
		  char *why, size_t cap)
{
	char path[4200];
	*data = NULL;
	*len = 0;
	if (!s->on || path_of(s, name, path, sizeof path) != 0)
		return 1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		snprintf(why, cap, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	size_t cap_b = 4096, n = 0;
	char *buf = malloc(cap_b);
	for (;;) {
		if (!buf) {
			close(fd);
			snprintf(why, cap, "out of memory reading %s", path);
			return -1;
		}
		if (n + 1 >= cap_b) {
			if (cap_b >= (1u << 20)) {
				free(buf);
				close(fd);
				snprintf(why, cap, "%s is larger than 1 MiB", path);
				return -1;
			}
			char *b = realloc(buf, cap_b * 2);
			if (!b) {
				free(buf);
				buf = NULL;
				continue;
			}
			buf = b;
			cap_b *= 2;
		}
		ssize_t r = read(fd, buf + n, cap_b - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(why, cap, "cannot read %s: %s", path, strerror(errno));
			free(buf);
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}

int sc_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode, char *why,
			 size_t cap)
{
	char tmp[4300];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
		snprintf(why, cap, "path too long");
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
	if (fd < 0) {
		snprintf(why, cap, "cannot write %s: %s", tmp, strerror(errno));
		return -1;
	}
	const char *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(why, cap, "cannot write %s: %s", tmp, w < 0 ? strerror(errno) : "no progress");
			close(fd);
			unlink(tmp);
			return -1;
		}
		p += w;
		left -= (size_t)w;
	}
	/* The data on disk before the name points at it. */
	if (fsync(fd) != 0) {
		snprintf(why, cap, "cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) != 0) {
		snprintf(why, cap, "cannot write %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) != 0) {
		snprintf(why, cap, "cannot replace %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	/* And the rename itself on disk. */
	char dir[4300];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof dir, ".");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int sc_state_write(const struct sc_state *s, const char *name, const void *data, size_t len,
		   char *why, size_t cap)
{
	char path[4200];
	if (!s->on)
		return 0;
	if (path_of(s, name, path, sizeof path) != 0) {
		snprintf(why, cap, "path too long");
		return -1;
	}
	return sc_write_file_atomic(path, data, len, 0600, why, cap);
}

int sc_state_remove(const struct sc_state *s, const char *name, char *why, size_t cap)
{
	char path[4200];
	if (!s->on || path_of(s, name, path, sizeof path) != 0)
		return 0;
	if (unlink(path) != 0 && errno != ENOENT) {
		snprintf(why, cap, "cannot remove %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

char *sc_read_file(const char *path, size_t *len, char *why, size_t cap)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(why, cap, "%s: %s", path, strerror(errno));
		return NULL;
	}
	size_t n = 0, c = 1 << 16, r;
	char *t = malloc(c + 1);
	while (t && (r = fread(t + n, 1, c - n, f)) > 0) {
		n += r;
		if (n == c) {
			char *u = realloc(t, c * 2 + 1);
			if (!u) {
				free(t);
				t = NULL;
				break;
			}
			t = u;
			c *= 2;
		}
	}
	fclose(f);
	if (!t) {
		snprintf(why, cap, "out of memory");
		return NULL;
	}
	t[n] = '\0';
	*len = n;
	return t;
}
