/* int8 depthwise NHWC convolution by tap pairs (x86: AVX-512 and AVX2).
 *
 * Two horizontally adjacent taps of a channel are one multiply-add of 16-bit pairs (vpdpwssd with
 * AVX-512 VNNI, vpmaddwd + vpaddd otherwise): per input row, a "pair row" P holds, for each padded
 * column i and channel c, the int32 whose low half is x[i] - x_zp and high half x[i + dil_w] - x_zp
 * (16-bit, zero outside the image, so padding adds nothing and the inner loop has no edge cases).
 * The weights are packed at load the same way: tap pair j of kernel row ky is (w[ky][2j], w[ky][2j+1])
 * with a zero high half when KW is odd. A 3x3 kernel is 6 pair products instead of 9 products.
 * A pair row is made once per input row and kept in a ring of KH rows, so a stride-1 layer makes
 * each one once for the KH output rows that read it. Stride 2 with dilation 1 stores only the even
 * columns, the ones the taps read.
 *
 * (x - x_zp) is in [-255, 255] and w in [-128, 127], so every product fits in 16 x 16 -> 32 bits and the
 * int32 sums equal the reference's exactly. Requantization is the reference's rule
 * (ember_q_requant) reordered: clamp acc * scale to [qmin - y_zp, qmax - y_zp], round to nearest
 * even, add y_zp. That equals rint(acc * scale) + y_zp clamped to [qmin, qmax] because the bounds are
 * integers and rounding is monotone; it needs finite scales (no NaN), which the plan checks. */
#ifndef EMBER_Q8_DWPAIR_H
#define EMBER_Q8_DWPAIR_H
#include <stddef.h>
#include <stdint.h>

#define EMBER_Q8DWP_MAX_KH 16

typedef struct ember_q8dwp_plan {
  size_t h, w_in, c, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow;
  size_t np;     /* tap pairs per kernel row: ceil(kw / 2) */
  size_t g;      /* a pair row stores padded columns 0, g, 2g, ... */
  size_t pn;     /* entries per pair row */
  size_t step;   /* pair-row entries from one output column to the next: sw / g */
  size_t joff;   /* pair-row entries from one tap pair to the next: 2 * dw / g */
  int32_t x_zp, y_zp, qmin, qmax;
  const int32_t *bias; /* [C], clamped to +-2^30 */
  const int32_t *wp;   /* [KH][np][C] packed weight pairs */
  const float *scale;  /* [C], all finite */
} ember_q8dwp_plan;

/* make pair row P [pn][C] from input row x [W][C] */
typedef void (*ember_q8dwp_build_fn)(const ember_q8dwp_plan *p, const int8_t *x, int32_t *pr);
/* output row y [OW][C] from the KH pair rows (NULL: the row is outside the image) */
typedef void (*ember_q8dwp_row_fn)(const ember_q8dwp_plan *p, const int32_t *const *rows, int8_t *y);

typedef struct ember_q8dwp_isa {
  ember_q8dwp_build_fn build;
  ember_q8dwp_row_fn row;
  size_t cblock; /* C must be a multiple of this */
  const char *name;
} ember_q8dwp_isa;

#if defined(__x86_64__) || defined(__i386__)
void ember_q8dwp_build_avx512(const ember_q8dwp_plan *p, const int8_t *x, int32_t *pr);
void ember_q8dwp_row_avx512(const ember_q8dwp_plan *p, const int32_t *const *rows, int8_t *y);
void ember_q8dwp_row_avx512vnni(const ember_q8dwp_plan *p, const int32_t *const *rows, int8_t *y);
void ember_q8dwp_build_avx2(const ember_q8dwp_plan *p, const int8_t *x, int32_t *pr);
void ember_q8dwp_row_avx2(const ember_q8dwp_plan *p, const int32_t *const *rows, int8_t *y);
#endif

/* Fill the geometry fields of a plan (np, g, pn, step, joff from the others). */
void ember_q8dwp_geometry(ember_q8dwp_plan *p);
/* Pack w [KH][KW][C] into pairs wp [KH][np][C]. */
void ember_q8dwp_pack(const ember_q8dwp_plan *p, const int8_t *w, int32_t *wp);
/* Per-thread scratch bytes for the ring of pair rows. */
size_t ember_q8dwp_scratch(const ember_q8dwp_plan *p);
/* Output rows [oy0, oy1) of one image, using the ring in scratch (64-byte aligned). */
void ember_q8dwp_rows(const ember_q8dwp_plan *p, const ember_q8dwp_isa *isa, const int8_t *x, int8_t *y, size_t oy0,
                      size_t oy1, void *scratch);
/* The kernels this CPU runs, best first (EMBER_FORCE_SCALAR / EMBER_MAX_ISA honoured through
 * ember_conv_isa); fills up to max, returns the count (0: none, the row kernels run instead). */
int ember_q8dwp_available(const ember_q8dwp_isa **out, int max);

#endif
