/* tower.c — where a Florence-VL checkpoint's Florence-2 configs, processor and tokenizer are:
 * --vision-tower DIR, else CKPT/vision_tower/ (checkpoints saved with the tower trained), else
 * config.json's mm_vision_tower when it is a local folder, else a Hugging Face cache snapshot of
 * that repo (the released SFT checkpoints name a separate tower repo there). */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cfg.h"
#include "common.h"
#include "tower.h"

static bool is_dir(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* A folder that holds a Florence-2 config.json. */
static bool is_tower(const char *dir)
{
	char p[1100];
	struct stat sb;
	snprintf(p, sizeof(p), "%s/config.json", dir);
	return is_dir(dir) && stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static bool set(char *out, size_t n, const char *a, const char *b)
{
	int w = b ? snprintf(out, n, "%s/%s", a, b) : snprintf(out, n, "%s", a);
	return w > 0 && (size_t)w < n;
}

/* The hub cache: $HF_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub or
 * ~/.cache/huggingface/hub (huggingface_hub's order). */
static bool hub_cache(char *out, size_t n)
{
	const char *v;
	if ((v = getenv("HF_HUB_CACHE")) && *v)
		return set(out, n, v, NULL);
	if ((v = getenv("HF_HOME")) && *v)
		return set(out, n, v, "hub");
	if ((v = getenv("XDG_CACHE_HOME")) && *v)
		return snprintf(out, n, "%s/huggingface/hub", v) < (int)n;
	if ((v = getenv("HOME")) && *v)
		return snprintf(out, n, "%s/.cache/huggingface/hub", v) < (int)n;
	return false;
}

/* models--org--name/snapshots/<refs/main> (or the only snapshot) of repo "org/name". */
static bool hub_snapshot(const char *repo, char *out, size_t n)
{
	char cache[900], base[1024], ref[128] = "", p[1100];
	if (!hub_cache(cache, sizeof(cache)) || strlen(repo) > 200)
		return false;
	int w = snprintf(base, sizeof(base), "%s/models--", cache);
	for (const char *c = repo; *c && w < (int)sizeof(base) - 3; c++)
		if (*c == '/')
			base[w++] = '-', base[w++] = '-';
		else
			base[w++] = *c;
	base[w] = 0;
	snprintf(p, sizeof(p), "%s/refs/main", base);
	FILE *f = fopen(p, "r");
	if (f) {
		if (!fgets(ref, sizeof(ref), f))
			ref[0] = 0;
		fclose(f);
		ref[strcspn(ref, "\r\n")] = 0;
	}
	if (ref[0] && !strchr(ref, '/')) {
		snprintf(out, n, "%s/snapshots/%s", base, ref);
		return is_tower(out);
	}
	snprintf(p, sizeof(p), "%s/snapshots", base);
	DIR *d = opendir(p);
	int found = 0;
	if (!d)
		return false;
	for (struct dirent *e; (e = readdir(d));) {
		snprintf(out, n, "%s/%s", p, e->d_name);
		if (e->d_name[0] == '.' || !is_tower(out))
			continue;
		if (found++ == 0)
			snprintf(ref, sizeof(ref), "%.*s", (int)sizeof(ref) - 1, e->d_name);
	}
	closedir(d);
	if (found != 1) /* none, or several with no refs/main to choose: not guessed */
		return false;
	snprintf(out, n, "%s/%s", p, ref);
	return true;
}

enum fvl_status tower_find(const char *ckpt_dir, const char *flag, const struct cfg *c, char *out,
                           size_t n, const char **how)
{
	const cJSON *mvt = cfg_get(c->root, "mm_vision_tower");
	const char *name = cJSON_IsString(mvt) ? mvt->valuestring : NULL;
	if (flag) {
		if (!is_tower(flag))
			return fvl_fail(FVL_STATUS_NOT_FOUND, "--vision-tower %s: %s", flag,
			                is_dir(flag) ? "the folder has no config.json"
			                             : "no such folder");
		*how = "--vision-tower";
		return set(out, n, flag, NULL)
		               ? FVL_STATUS_OK
		               : fvl_fail(FVL_STATUS_INVALID_ARGUMENT, "path too long");
	}
	if (set(out, n, ckpt_dir, "vision_tower") && is_tower(out)) {
		*how = "the checkpoint's vision_tower/";
		return FVL_STATUS_OK;
	}
	if (name && *name) {
		if (name[0] == '/' && set(out, n, name, NULL) && is_tower(out)) {
			*how = "mm_vision_tower";
			return FVL_STATUS_OK;
		}
		if (name[0] != '/' && set(out, n, ckpt_dir, name) && is_tower(out)) {
			*how = "mm_vision_tower (beside the checkpoint)";
			return FVL_STATUS_OK;
		}
		if (name[0] != '/' && set(out, n, name, NULL) && is_tower(out)) {
			*how = "mm_vision_tower";
			return FVL_STATUS_OK;
		}
		if (name[0] != '/' && strchr(name, '/') && hub_snapshot(name, out, n)) {
			*how = "the Hugging Face cache";
			return FVL_STATUS_OK;
		}
	}
	if (name && *name && name[0] != '/' && strchr(name, '/')) {
		const char *base = strrchr(name, '/') + 1;
		return fvl_fail(
		        FVL_STATUS_NOT_FOUND,
		        "%s has no vision_tower/ folder, and its config.json "
		        "names the Florence-2 tower repo '%s' (mm_vision_tower), which is neither "
		        "a local folder nor in the Hugging Face cache: download it "
		        "(huggingface-cli download %s --local-dir %s) and pass --vision-tower %s",
		        ckpt_dir, name, name, base, base);
	}
	return fvl_fail(
	        FVL_STATUS_NOT_FOUND,
	        "%s has no vision_tower/ folder%s%s%s: pass the folder "
	        "of the Florence-2 tower (config.json, preprocessor_config.json, tokenizer.json) "
	        "with --vision-tower DIR",
	        ckpt_dir, name ? " and mm_vision_tower '" : "", name ? name : "",
	        name ? "' is not a folder" : "");
}
