/* cfg.c — typed JSON reads with messages that name the file and the key. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cfg.h"
#include "common.h"

enum fvl_status cfg_read_file(const char *path, char **out, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long size;
	*out = NULL;
	if (!f)
		return fvl_fail(errno == ENOENT ? FVL_STATUS_NOT_FOUND : FVL_STATUS_IO,
		                "%s: cannot open: %s", path, strerror(errno));
	struct stat sb;
	if (fstat(fileno(f), &sb) == 0 && !S_ISREG(sb.st_mode)) {
		fclose(f);
		return fvl_fail(FVL_STATUS_BAD_FILE, "%s: %s, not a file", path,
		                S_ISDIR(sb.st_mode) ? "a directory" : "a device, FIFO or socket");
	}
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return fvl_fail(FVL_STATUS_IO, "%s: cannot read", path);
	}
	buf = malloc((size_t)size + 1);
	if (!buf) {
		fclose(f);
		return fvl_fail(FVL_STATUS_OUT_OF_MEMORY, "%s: out of memory", path);
	}
	if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
		free(buf);
		fclose(f);
		return fvl_fail(FVL_STATUS_IO, "%s: read error", path);
	}
	fclose(f);
	buf[size] = '\0';
	*out = buf;
	if (n)
		*n = (size_t)size;
	return FVL_STATUS_OK;
}

enum fvl_status cfg_load(struct cfg *c, const char *path)
{
	char *text;
	size_t n;
	memset(c, 0, sizeof(*c));
	snprintf(c->path, sizeof(c->path), "%s", path);
	enum fvl_status st = cfg_read_file(path, &text, &n);
	if (st != FVL_STATUS_OK)
		return st;
	const char *end = NULL;
	c->root = cJSON_ParseWithLengthOpts(text, n, &end, 0);
	if (!cJSON_IsObject(c->root)) {
		long at = end ? (long)(end - text) : -1;
		free(text);
		cJSON_Delete(c->root);
		c->root = NULL;
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "%s: not a valid JSON object (error near byte %ld)", path, at);
	}
	free(text);
	return FVL_STATUS_OK;
}

void cfg_free(struct cfg *c)
{
	cJSON_Delete(c->root);
	c->root = NULL;
}

const cJSON *cfg_get(const cJSON *obj, const char *key)
{
	char part[128];
	while (obj && *key) {
		const char *dot = strchr(key, '.');
		size_t n = dot ? (size_t)(dot - key) : strlen(key);
		if (n >= sizeof(part))
			return NULL;
		memcpy(part, key, n);
		part[n] = '\0';
		obj = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, part) : NULL;
		key += n + (dot != NULL);
	}
	return obj;
}

static enum fvl_status missing(const struct cfg *c, const char *key)
{
	return fvl_fail(FVL_STATUS_NOT_FOUND, "%s: '%s' is missing", c->path, key);
}

static enum fvl_status wrong(const struct cfg *c, const char *key, const char *want)
{
	return fvl_fail(FVL_STATUS_BAD_FILE, "%s: '%s' is not %s", c->path, key, want);
}

enum fvl_status cfg_num(const struct cfg *c, const cJSON *obj, const char *key, double *out)
{
	const cJSON *j = cfg_get(obj, key);
	if (!j || cJSON_IsNull(j))
		return missing(c, key);
	if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble))
		return wrong(c, key, "a number");
	*out = j->valuedouble;
	return FVL_STATUS_OK;
}

enum fvl_status cfg_int(const struct cfg *c, const cJSON *obj, const char *key, int64_t *out)
{
	double d;
	enum fvl_status st = cfg_num(c, obj, key, &d);
	if (st != FVL_STATUS_OK)
		return st;
	if (d != floor(d) || fabs(d) > 9007199254740992.0)
		return wrong(c, key, "an integer");
	*out = (int64_t)d;
	return FVL_STATUS_OK;
}

enum fvl_status cfg_str(const struct cfg *c, const cJSON *obj, const char *key, const char **out)
{
	const cJSON *j = cfg_get(obj, key);
	if (!j || cJSON_IsNull(j))
		return missing(c, key);
	if (!cJSON_IsString(j))
		return wrong(c, key, "a string");
	*out = j->valuestring;
	return FVL_STATUS_OK;
}

enum fvl_status
cfg_int_or(const struct cfg *c, const cJSON *obj, const char *key, int64_t def, int64_t *out)
{
	const cJSON *j = cfg_get(obj, key);
	if (!j || cJSON_IsNull(j)) {
		*out = def;
		return FVL_STATUS_OK;
	}
	return cfg_int(c, obj, key, out);
}

enum fvl_status
cfg_num_or(const struct cfg *c, const cJSON *obj, const char *key, double def, double *out)
{
	const cJSON *j = cfg_get(obj, key);
	if (!j || cJSON_IsNull(j)) {
		*out = def;
		return FVL_STATUS_OK;
	}
	return cfg_num(c, obj, key, out);
}

enum fvl_status
cfg_bool_or(const struct cfg *c, const cJSON *obj, const char *key, bool def, bool *out)
{
	const cJSON *j = cfg_get(obj, key);
	if (!j || cJSON_IsNull(j)) {
		*out = def;
		return FVL_STATUS_OK;
	}
	if (!cJSON_IsBool(j))
		return wrong(c, key, "true or false");
	*out = cJSON_IsTrue(j);
	return FVL_STATUS_OK;
}

enum fvl_status
cfg_num_array(const struct cfg *c, const cJSON *obj, const char *key, double *out, int n)
{
	const cJSON *j = cfg_get(obj, key), *e;
	int i = 0;
	if (!j || cJSON_IsNull(j))
		return missing(c, key);
	if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != n)
		return fvl_fail(FVL_STATUS_BAD_FILE, "%s: '%s' is not an array of %d numbers",
		                c->path, key, n);
	cJSON_ArrayForEach (e, j) {
		if (!cJSON_IsNumber(e))
			return fvl_fail(FVL_STATUS_BAD_FILE, "%s: '%s'[%d] is not a number",
			                c->path, key, i);
		out[i++] = e->valuedouble;
	}
	return FVL_STATUS_OK;
}
