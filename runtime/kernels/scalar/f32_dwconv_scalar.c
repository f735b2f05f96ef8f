/* Depthwise conv2d plane kernel, portable build (auto-vectorized with the target's baseline ISA). */
#include <stddef.h>

#include "../fast/f32_dwconv.h"
#define EMBER_DWCONV_FN ember_f32_dwconv_plane_scalar
#define EMBER_DWCONV_PADDED_FN ember_f32_dwconv_padded_scalar
#include "../fast/f32_dwconv.inc"
