/* pixel-formats.h — camera frames to RGB8 (pixel-formats.c). */
#ifndef FVL_PIXEL_FORMATS_H
#define FVL_PIXEL_FORMATS_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

/* YUYV (4:2:2) to RGB8 with BT.601 limited-range coefficients; stride in bytes per row. */
void fvl_yuyv_to_rgb(const uint8_t *yuyv, uint32_t w, uint32_t h, uint32_t stride, uint8_t *rgb);

/* A frame of n bytes in V4L2 format fourcc (MJPEG, YUYV or RGB24; stride 0: packed rows) into
 * out (reused when the size matches). BAD_FILE, naming source, for a frame that does not decode
 * or is shorter than its size says. */
enum fvl_status fvl_frame_to_rgb(uint32_t fourcc, const uint8_t *data, size_t n, uint32_t w,
                                 uint32_t h, uint32_t stride, const char *source,
                                 struct fvl_image *out);

#endif /* FVL_PIXEL_FORMATS_H */
