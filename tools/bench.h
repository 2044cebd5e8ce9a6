/* bench.h — `fvl bench`. */
#ifndef FVL_TOOLS_BENCH_H
#define FVL_TOOLS_BENCH_H

#include <stdio.h>

int fvl_bench_main(int argc, char **argv);
void fvl_bench_help(FILE *f);

#endif
