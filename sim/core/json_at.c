#include "json_at.h"

#include <string.h>

const cJSON *sc_json_at(const cJSON *doc, const char *path)
{
	char key[96];
	const cJSON *v = doc;
	while (v && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		if (n >= sizeof key)
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		v = cJSON_GetObjectItemCaseSensitive(v, key);
		path += n + (dot ? 1 : 0);
	}
	return v;
}
