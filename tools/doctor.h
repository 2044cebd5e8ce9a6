/* doctor.h — `fvl doctor`. */
#ifndef FVL_TOOLS_DOCTOR_H
#define FVL_TOOLS_DOCTOR_H

#include <stdio.h>

int fvl_doctor_main(int argc, char **argv);
void fvl_doctor_help(FILE *f);

#endif
