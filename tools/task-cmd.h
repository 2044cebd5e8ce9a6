/* task-cmd.h — `fvl task`: Florence-2 tasks on an image. */
#ifndef FVL_TOOLS_TASK_H
#define FVL_TOOLS_TASK_H

#include <stdio.h>

int fvl_task_main(int argc, char **argv);
void fvl_task_help(FILE *f);

#endif
