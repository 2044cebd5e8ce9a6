# Any aarch64 Linux machine: baseline armv8-a code, variants picked at run time from HWCAP.
BOARD_CPU :=
BOARD_THREADS := 4
BOARD_DEFS := -DFVL_BOARD=\"generic-aarch64\" -DFVL_DEFAULT_THREADS=$(BOARD_THREADS)
