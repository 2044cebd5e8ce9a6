/* outfile.h — how fvl-quant writes a file: into OUT.tmp, renamed to OUT only when complete and
 * synced; removed on any failure and on SIGINT, SIGTERM or SIGHUP. One output at a time. */
#ifndef FVL_OUTFILE_H
#define FVL_OUTFILE_H

#include <stdio.h>

#include "fvl.h"

/* OUT may be a new name or a regular file: never a directory, a device or a FIFO. */
enum fvl_status outfile_check(const char *out);
/* Creates OUT.tmp (a leftover regular file of that name is replaced) and arms the signals. */
enum fvl_status outfile_open(const char *out, FILE **f);
/* Flushes, syncs and closes *f, then renames OUT.tmp to OUT. *f is NULL afterwards. */
enum fvl_status outfile_commit(FILE **f);
/* After a failure (or when nothing was opened): closes f, removes OUT.tmp and disarms the
 * signals; with st != OK the error message is prefixed with the temporary file's name. */
void outfile_abort(FILE *f, enum fvl_status st);

#endif /* FVL_OUTFILE_H */
