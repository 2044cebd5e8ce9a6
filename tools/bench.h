/* bench.h — `fvl bench`. */
#ifndef FVL_TOOLS_BENCH_H
#define FVL_TOOLS_BENCH_H

int fvl_bench_main(int argc, char **argv);

#endif
