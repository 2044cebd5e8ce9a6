/* doctor.h — `fvl doctor`. */
#ifndef FVL_TOOLS_DOCTOR_H
#define FVL_TOOLS_DOCTOR_H

int fvl_doctor_main(int argc, char **argv);

#endif
