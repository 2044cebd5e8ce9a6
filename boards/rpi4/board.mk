# Raspberry Pi 4: Cortex-A72, NEON only (no dotprod, no fp16 arithmetic), 4 cores.
BOARD_CPU := cortex-a72
BOARD_THREADS := 4
BOARD_DEFS := -DFVL_BOARD=\"rpi4\" -DFVL_DEFAULT_THREADS=$(BOARD_THREADS)
