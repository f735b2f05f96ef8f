#ifndef EMBER_F32_DWCONV_H
#define EMBER_F32_DWCONV_H
#include <stddef.h>

typedef void (*ember_f32_dwconv_fn)(const float *in, size_t h, size_t w, const float *filt, size_t kh, size_t kw,
                                    size_t sh, size_t sw, size_t ph, size_t pw, size_t dh, size_t dw, float bias,
                                    float *out, size_t oh, size_t ow);
void ember_f32_dwconv_plane_scalar(const float *in, size_t h, size_t w, const float *filt, size_t kh, size_t kw,
                                   size_t sh, size_t sw, size_t ph, size_t pw, size_t dh, size_t dw, float bias,
                                   float *out, size_t oh, size_t ow);
#if defined(__x86_64__) || defined(__i386__)
void ember_f32_dwconv_plane_avx2(const float *in, size_t h, size_t w, const float *filt, size_t kh, size_t kw,
                                 size_t sh, size_t sw, size_t ph, size_t pw, size_t dh, size_t dw, float bias,
                                 float *out, size_t oh, size_t ow);
#endif
typedef void (*ember_f32_dwconv_padded_fn)(const float *in, size_t h, size_t w, const float *filt, size_t kh,
                                           size_t kw, size_t ph, size_t pw, size_t dh, size_t dw, float bias,
                                           float *out, size_t oh, size_t ow, float *scratch);
void ember_f32_dwconv_padded_scalar(const float *in, size_t h, size_t w, const float *filt, size_t kh, size_t kw,
                                    size_t ph, size_t pw, size_t dh, size_t dw, float bias, float *out, size_t oh,
                                    size_t ow, float *scratch);
#if defined(__x86_64__) || defined(__i386__)
void ember_f32_dwconv_padded_avx2(const float *in, size_t h, size_t w, const float *filt, size_t kh, size_t kw,
                                  size_t ph, size_t pw, size_t dh, size_t dw, float bias, float *out, size_t oh,
                                  size_t ow, float *scratch);
#endif
ember_f32_dwconv_fn ember_f32_dwconv_plane(void);
ember_f32_dwconv_padded_fn ember_f32_dwconv_padded(void);
#endif
