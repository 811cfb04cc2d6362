/*
 * segloss.h: C API of segloss's binary segmentation losses (static library
 * `libsegloss.a`, built from capi/ with cargo; no heap, no global state,
 * reentrant).
 *
 * Conventions
 * - Every function returns a status: SEGLOSS_OK (0) or a negative
 *   SEGLOSS_ERR_* code. Results are written through `out`, which is left
 *   untouched on error.
 * - `pred` holds `len` floats: logits or probabilities, as the configuration
 *   says (`from_logits`). `target` holds `len` floats in [0, 1] (hard or soft
 *   labels; the plain functions) or `len` bytes 0/1 (the `_u8` functions).
 * - A NULL configuration means the defaults (PyTorch / smp's defaults);
 *   `segloss_<loss>_default()` returns them for editing.
 * - In configurations, flags are uint8_t (0 false, else true) and an optional
 *   float is NAN for "none".
 * - NaN in the data propagates into the result, as in PyTorch.
 * - Same inputs give the same bits on every target that computes without FMA
 *   contraction (see docs/targets.md).
 * - Linking: pass -Wl,--gc-sections (the precompiled core library refers to
 *   an unwinding routine that a panic=abort library never uses). Nothing
 *   else is needed: no libc function is called except abort() on hosted
 *   targets, which cannot be reached (every input is validated).
 */
#ifndef SEGLOSS_H
#define SEGLOSS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SEGLOSS_OK 0
/* A required pointer is NULL (or misaligned for its type). */
#define SEGLOSS_ERR_NULL (-1)
/* A length too large for the address space. */
#define SEGLOSS_ERR_LENGTH (-2)
/* No element (len == 0, or everything ignored where a mean needs one). */
#define SEGLOSS_ERR_EMPTY (-3)
/* A parameter is NaN or outside its domain (also an unknown reduction). */
#define SEGLOSS_ERR_PARAM (-4)
/* A uint8_t mask value other than 0, 1 or the ignore value. */
#define SEGLOSS_ERR_MASK (-5)
/* A loss configuration that differs from the accumulator's statistics. */
#define SEGLOSS_ERR_CONFIG_MISMATCH (-6)
/* An accumulator not initialised with its init function
   (segloss_accumulator_init, segloss_region_accumulator_init). */
#define SEGLOSS_ERR_UNINIT (-7)
/* An error this version of the header does not name. */
#define SEGLOSS_ERR_OTHER (-99)

/* Reductions. */
#define SEGLOSS_MEAN 0u
#define SEGLOSS_SUM 1u

/* Dice and Jaccard (smp DiceLoss / JaccardLoss, binary mode).
   Defaults: from_logits 1, log_loss 0, smooth 0, eps 1e-7, ignore_index none. */
typedef struct {
  uint8_t from_logits;
  uint8_t log_loss;
  float smooth;
  float eps;
  float ignore_index; /* NAN: none */
} segloss_region_config;

/* Tversky (smp TverskyLoss). Defaults: alpha 0.5, beta 0.5, gamma 1. */
typedef struct {
  segloss_region_config region;
  float alpha;
  float beta;
  float gamma;
} segloss_tversky_config;

/* smp FocalLoss. Defaults: from_logits 1, normalized 0, gamma 2, alpha none,
   reduced_threshold none, eps 1e-7, ignore_index none, mean. */
typedef struct {
  uint8_t from_logits;
  uint8_t normalized;
  float gamma;
  float alpha;             /* NAN: none */
  float reduced_threshold; /* NAN: none */
  float eps;
  float ignore_index; /* NAN: none */
  uint32_t reduction;
} segloss_focal_config;

/* torchvision sigmoid_focal_loss (logits). Defaults: alpha 0.25, gamma 2, mean. */
typedef struct {
  float alpha;
  float gamma;
  uint32_t reduction;
} segloss_sigmoid_focal_config;

/* binary_cross_entropy on probabilities. Default: mean. */
typedef struct {
  uint32_t reduction;
} segloss_bce_config;

/* binary_cross_entropy_with_logits. Defaults: pos_weight 1, mean. */
typedef struct {
  float pos_weight;
  uint32_t reduction;
} segloss_bce_logits_config;

/* smp SoftBCEWithLogitsLoss. Defaults: smooth_factor none, ignore_index -100,
   pos_weight 1, mean. */
typedef struct {
  float smooth_factor; /* NAN: none */
  float ignore_index;  /* NAN: none */
  float pos_weight;
  uint32_t reduction;
} segloss_soft_bce_config;

/* smp MCCLoss (soft). Defaults: from_logits 0, eps 1e-5. */
typedef struct {
  uint8_t from_logits;
  float eps;
} segloss_mcc_config;

/* Thresholded MCC (1 - MCC). Defaults: from_logits 0, threshold 0.5, eps 1e-7. */
typedef struct {
  uint8_t from_logits;
  double threshold; /* compared with p in double precision */
  float eps;
} segloss_hard_mcc_config;

/* What a streaming accumulator computes. Defaults: from_logits 1,
   ignore_index none, threshold 0.5, gamma 2, reduced_threshold none, eps 1e-7. */
typedef struct {
  uint8_t from_logits;
  float ignore_index; /* NAN: none */
  double threshold;
  float gamma;
  float reduced_threshold; /* NAN: none */
  float eps;
} segloss_stats_config;

/* One-shot losses over `len` elements: `name` (float targets), `name_u8`
   (uint8_t mask) and `name_default` (the default configuration). */
#define SEGLOSS_ONE_SHOT(name, cfg_t)                                          \
  int32_t name(const float *pred, const float *target, size_t len,             \
               const cfg_t *cfg, float *out);                                  \
  int32_t name##_u8(const float *pred, const uint8_t *target, size_t len,      \
                    const cfg_t *cfg, float *out);                             \
  cfg_t name##_default(void);

SEGLOSS_ONE_SHOT(segloss_dice, segloss_region_config)
SEGLOSS_ONE_SHOT(segloss_jaccard, segloss_region_config)
SEGLOSS_ONE_SHOT(segloss_tversky, segloss_tversky_config)
SEGLOSS_ONE_SHOT(segloss_focal, segloss_focal_config)
SEGLOSS_ONE_SHOT(segloss_sigmoid_focal, segloss_sigmoid_focal_config)
SEGLOSS_ONE_SHOT(segloss_bce, segloss_bce_config)
SEGLOSS_ONE_SHOT(segloss_bce_with_logits, segloss_bce_logits_config)
SEGLOSS_ONE_SHOT(segloss_soft_bce, segloss_soft_bce_config)
SEGLOSS_ONE_SHOT(segloss_mcc, segloss_mcc_config)
SEGLOSS_ONE_SHOT(segloss_hard_mcc, segloss_hard_mcc_config)
#undef SEGLOSS_ONE_SHOT

/* Streaming: the caller owns the storage (stack, static, ...). */
#define SEGLOSS_ACCUMULATOR_BYTES 512
#ifdef __cplusplus
#define SEGLOSS_ALIGN8 alignas(8)
#else
#define SEGLOSS_ALIGN8 _Alignas(8)
#endif
typedef struct {
  SEGLOSS_ALIGN8 uint64_t opaque[SEGLOSS_ACCUMULATOR_BYTES / 8];
} segloss_accumulator;

segloss_stats_config segloss_stats_default(void);
/* Starts an empty accumulator; cfg NULL: defaults. */
int32_t segloss_accumulator_init(segloss_accumulator *acc,
                                 const segloss_stats_config *cfg);
/* Adds `len` elements (any length, also 0) in one fused pass. */
int32_t segloss_accumulator_update(segloss_accumulator *acc, const float *pred,
                                   const float *target, size_t len);
int32_t segloss_accumulator_update_u8(segloss_accumulator *acc,
                                      const float *pred, const uint8_t *target,
                                      size_t len);
/* acc += other (same statistics configuration required). */
int32_t segloss_accumulator_merge(segloss_accumulator *acc,
                                  const segloss_accumulator *other);

/* A loss from the sums so far. The configuration must agree with the
   accumulator's (from_logits, ignore_index, gamma, threshold, ...), else
   SEGLOSS_ERR_CONFIG_MISMATCH. */
#define SEGLOSS_FINALISER(name, cfg_t)                                         \
  int32_t segloss_accumulator_##name(const segloss_accumulator *acc,           \
                                     const cfg_t *cfg, float *out);
SEGLOSS_FINALISER(dice, segloss_region_config)
SEGLOSS_FINALISER(jaccard, segloss_region_config)
SEGLOSS_FINALISER(tversky, segloss_tversky_config)
SEGLOSS_FINALISER(focal, segloss_focal_config)
SEGLOSS_FINALISER(sigmoid_focal, segloss_sigmoid_focal_config)
SEGLOSS_FINALISER(bce, segloss_bce_config)
SEGLOSS_FINALISER(bce_with_logits, segloss_bce_logits_config)
SEGLOSS_FINALISER(soft_bce, segloss_soft_bce_config)
SEGLOSS_FINALISER(mcc, segloss_mcc_config)
SEGLOSS_FINALISER(hard_mcc, segloss_hard_mcc_config)
#undef SEGLOSS_FINALISER

/* Streaming Dice, Jaccard and Tversky only: the three region sums, the pass
   of segloss_dice (its speed; on Cortex-M4F about the one-shot call's flash
   instead of the full accumulator's). The accumulator keeps the config's
   from_logits and ignore_index; a finaliser's config must agree with them
   (else SEGLOSS_ERR_CONFIG_MISMATCH); smooth, eps and log_loss are read when
   the loss is computed. One update over all the data gives the one-shot
   function's bits. */
#define SEGLOSS_REGION_ACCUMULATOR_BYTES 64
typedef struct {
  SEGLOSS_ALIGN8 uint64_t opaque[SEGLOSS_REGION_ACCUMULATOR_BYTES / 8];
} segloss_region_accumulator;

/* Starts an empty region accumulator; cfg NULL: defaults. */
int32_t segloss_region_accumulator_init(segloss_region_accumulator *acc,
                                        const segloss_region_config *cfg);
int32_t segloss_region_accumulator_update(segloss_region_accumulator *acc,
                                          const float *pred,
                                          const float *target, size_t len);
int32_t segloss_region_accumulator_update_u8(segloss_region_accumulator *acc,
                                             const float *pred,
                                             const uint8_t *target,
                                             size_t len);
int32_t segloss_region_accumulator_merge(
    segloss_region_accumulator *acc, const segloss_region_accumulator *other);
int32_t segloss_region_accumulator_dice(const segloss_region_accumulator *acc,
                                        const segloss_region_config *cfg,
                                        float *out);
int32_t segloss_region_accumulator_jaccard(
    const segloss_region_accumulator *acc, const segloss_region_config *cfg,
    float *out);
int32_t segloss_region_accumulator_tversky(
    const segloss_region_accumulator *acc, const segloss_tversky_config *cfg,
    float *out);

/* A hash of every math primitive and every binary loss on fixed inputs: equal
   to the host's value when this build computes the same bits (a start-up check
   for a firmware port). */
uint64_t segloss_selftest_fingerprint(void);

#ifdef __cplusplus
}
#endif

#endif /* SEGLOSS_H */
