# Raspberry Pi 5: Cortex-A76, dotprod + fp16 arithmetic, no i8mm, 4 cores.
BOARD_CPU := cortex-a76
BOARD_THREADS := 4
BOARD_DEFS := -DFVL_BOARD=\"rpi5\" -DFVL_DEFAULT_THREADS=$(BOARD_THREADS)
