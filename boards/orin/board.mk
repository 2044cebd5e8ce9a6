# Jetson Orin (Nano/NX/AGX): Cortex-A78AE, dotprod + fp16 arithmetic, no i8mm, 6-12 cores.
BOARD_CPU := cortex-a78ae
BOARD_THREADS := 6
BOARD_DEFS := -DFVL_BOARD=\"orin\" -DFVL_DEFAULT_THREADS=$(BOARD_THREADS)
