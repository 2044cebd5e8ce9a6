/* doctor.c — `fvl doctor`: what a user needs when something is slow or wrong: CPU and features,
 * the kernel chosen for each op, cores and threads, memory, swap and huge pages, whether a model
 * fits, and the video devices with their formats. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libv4l2.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "doctor.h"
#include "fvl.h"

/* The value of "key" in a /proc file of "key: value" lines (first match), or "". */
static void proc_value(const char *path, const char *key, char *out, size_t n)
{
	char line[512];
	FILE *f = fopen(path, "r");
	out[0] = 0;
	if (!f)
		return;
	const size_t kl = strlen(key);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, kl) != 0)
			continue;
		const char *v = line + kl;
		while (*v == ' ' || *v == '\t' || *v == ':')
			v++;
		snprintf(out, n, "%s", v);
		out[strcspn(out, "\n")] = 0;
		break;
	}
	fclose(f);
}

static long meminfo_mb(const char *key)
{
	char v[64];
	proc_value("/proc/meminfo", key, v, sizeof(v));
	return v[0] ? atol(v) / 1024 : -1;
}

static void video_devices(void)
{
	DIR *d = opendir("/dev");
	struct dirent *e;
	int found = 0;
	printf("video devices:\n");
	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, "video", 5) != 0)
			continue;
		char path[300];
		snprintf(path, sizeof(path), "/dev/%s", e->d_name);
		found++;
		int fd = v4l2_open(path, O_RDWR | O_NONBLOCK);
		if (fd < 0) {
			printf("  %s: cannot open (%s)\n", path, strerror(errno));
			continue;
		}
		struct v4l2_capability cap;
		memset(&cap, 0, sizeof(cap));
		if (v4l2_ioctl(fd, VIDIOC_QUERYCAP, &cap) == 0) {
			printf("  %s: %.32s (%.16s)", path, (const char *)cap.card,
			       (const char *)cap.driver);
			struct v4l2_fmtdesc fd_ = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
			const char *sep = ", formats: ";
			for (fd_.index = 0;
			     v4l2_ioctl(fd, VIDIOC_ENUM_FMT, &fd_) == 0 && fd_.index < 16;
			     fd_.index++) {
				printf("%s%.4s", sep, (const char *)&fd_.pixelformat);
				sep = " ";
			}
			printf("\n");
		} else {
			printf("  %s: not a V4L2 device\n", path);
		}
		v4l2_close(fd);
	}
	if (d)
		closedir(d);
	if (!found)
		printf("  none found (a camera appears as /dev/videoN; the user needs the 'video' "
		       "group)\n");
}

void fvl_doctor_help(FILE *f)
{
	fputs("usage: fvl doctor [-m MODEL.gguf] [-c CTX]\n"
	      "\n"
	      "Prints the CPU and its features (NAME: yes|no), the kernel chosen per op, threads,\n"
	      "memory, swap, huge pages, video devices, and with -m whether the model fits in the\n"
	      "available memory with a context of CTX tokens (default 2048). Exits 1 if the model\n"
	      "file cannot be read.\n",
	      f);
}

int fvl_doctor_main(int argc, char **argv)
{
	const char *model = NULL;
	long ctx = 2048;
	int rc = 0;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-m") && i + 1 < argc) {
			model = argv[++i];
		} else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			if (!parse_long(argv[++i], 16, 1 << 20, &ctx)) {
				fprintf(stderr,
				        "fvl doctor: -c wants 16..1048576 tokens, not '%s'\n",
				        argv[i]);
				return 2;
			}
		} else {
			fprintf(stderr,
			        "fvl doctor: unknown option '%s' (try 'fvl doctor --help')\n",
			        argv[i]);
			return 2;
		}
	}
	struct fvl_system_info si;
	char v[256];
	const char *isa = getenv("FVL_ISA");
	const bool forced_ok = fvl_system_info(isa, &si) == FVL_STATUS_OK;
	if (!forced_ok)
		fvl_system_info(NULL, &si);
	printf("fvl %s, board profile: %s\n", fvl_version(),
	       strcmp(si.board, "none") ? si.board : "none (host build)");
	proc_value("/proc/cpuinfo", "model name", v, sizeof(v));
	if (!v[0]) {
		char part[64], impl[64];
		proc_value("/proc/cpuinfo", "CPU part", part, sizeof(part));
		proc_value("/proc/cpuinfo", "CPU implementer", impl, sizeof(impl));
		const char *name = !strcmp(part, "0xd08")   ? "Cortex-A72"
		                   : !strcmp(part, "0xd0b") ? "Cortex-A76"
		                   : !strcmp(part, "0xd42") ? "Cortex-A78AE"
		                   : !strcmp(part, "0xd03") ? "Cortex-A53"
		                                            : "";
		snprintf(v, sizeof(v), "%s%s(implementer %s, part %s)", name, *name ? " " : "",
		         impl, part);
	}
	printf("cpu: %s, %s%s\n", v, si.arch, si.simde ? " (NEON kernels through SIMDe)" : "");
	print_cpu_features(&si);
	if (!forced_ok)
		printf("kernel variant: FVL_ISA=%s cannot run here; using the best\n", isa);
	printf("kernel variant: %s%s\n", si.kernel_level,
	       isa && *isa && forced_ok ? " (FVL_ISA)" : "");
	print_kernels(&si);
	printf("xnnpack (f32 linears): %s\n", si.xnnpack ? "yes" : "no");
	printf("cores: %u available to this process; default threads: %u\n", si.n_cpus,
	       si.default_threads);
	const long total = meminfo_mb("MemTotal"), avail = meminfo_mb("MemAvailable");
	printf("memory: %ld MB total, %ld MB available\n", total, avail);
	printf("swap: %ld MB total, %ld MB free\n", meminfo_mb("SwapTotal"),
	       meminfo_mb("SwapFree"));
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f && fgets(v, sizeof(v), f)) {
		v[strcspn(v, "\n")] = 0;
		printf("transparent huge pages: %s\n", v);
	} else {
		printf("transparent huge pages: unknown\n");
	}
	if (f)
		fclose(f);
	if (model) {
		struct fvl_model_info mi;
		if (fvl_model_info(model, &mi) != FVL_STATUS_OK) {
			printf("model: %s\n", fvl_last_error()); /* the message names the file */
			fprintf(stderr, "fvl doctor: error: %s\n", fvl_last_error());
			rc = 1;
		} else {
			const double file = (double)mi.file_bytes / 1048576.0;
			const double kv = (double)mi.n_layer * (double)ctx * 2.0 * mi.n_head_kv *
			                  mi.n_embd_head * 2.0 / 1048576.0;
			const double need = file + kv + 300.0;
			printf("model: %s: %.0f MB file + %.0f MB f16 KV cache (context %ld) + "
			       "~300 MB working "
			       "set = %.0f MB; %s\n",
			       model, file, kv, ctx, need,
			       avail < 0       ? "available memory unknown"
			       : need <= avail ? "fits in available memory"
			                       : "does NOT fit in available memory (smaller "
			                         "context with -c, or a smaller quant)");
		}
	}
	video_devices();
	return rc;
}
