//! A fingerprint of every primitive and every loss on fixed inputs, for
//! checking that a build gives the same bits as the host.
//!
//! segloss uses only IEEE `+ − × ÷`, exact operations and a fixed order of
//! accumulation, so one input gives one result on every target: x86-64 SSE2
//! and AVX2, aarch64 NEON, wasm32 with or without `simd128`, Cortex-M.
//! [`fingerprint`] hashes the results of every math primitive over 4096
//! inputs spread across the whole f32 range (special values included) and
//! of every binary loss (and of two backward passes, the loss and every
//! gradient element) over fixed inputs; it must equal [`EXPECTED`]
//! everywhere. Firmware can call it at start-up to validate a port. With
//! the `nchw` feature, `fingerprint_nchw` does the same for every
//! multiclass and multilabel loss, forward and backward, and must equal
//! `EXPECTED_NCHW`.
//!
//! NaN results are hashed as one canonical NaN: the sign and payload of a
//! NaN produced by an operation differ between x86 and ARM, and IEEE 754
//! leaves them open, so they carry no meaning.
//!
//! ```
//! assert_eq!(segloss::selftest::fingerprint(), segloss::selftest::EXPECTED);
//! ```

use crate::backward::binary as bw;
use crate::config::{
    Bce, BceWithLogits, Focal, HardMcc, Mcc, Reduction, Region, SigmoidFocal, SoftBce, Tversky,
};
use crate::{BinaryAccumulator, StatsConfig, binary, math};
use wide::f32x8;

/// The fingerprint every target must produce.
pub const EXPECTED: u64 = 15_195_225_253_964_631_582;

/// FNV-1a over 32-bit words, NaN canonicalised.
struct Fnv(u64);

impl Fnv {
    fn word(&mut self, v: f32) {
        let bits = if v.is_nan() { 0x7FC0_0000 } else { v.to_bits() };
        for b in bits.to_le_bytes() {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01B3);
        }
    }
    fn vector(&mut self, v: f32x8) {
        v.to_array().into_iter().for_each(|x| self.word(x));
    }
    fn result<E>(&mut self, r: Result<f32, E>) {
        self.word(r.unwrap_or(-12345.0));
    }
    /// A backward call: its loss, then every gradient element.
    fn backward<E>(&mut self, r: Result<f32, E>, grad: &[f32]) {
        self.result(r);
        grad.iter().for_each(|g| self.word(*g));
    }
}

/// A fixed xorshift stream.
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 8) as f32 / (1u32 << 24) as f32
    }
}

const SPECIAL: [f32; 16] = [
    0.0,
    -0.0,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
    1e-40,
    -1e-40,
    88.0,
    -88.0,
    89.0,
    -104.0,
    1e30,
    -1e30,
    f32::MAX,
    1.0,
    0.5,
];

fn primitives(h: &mut Fnv) {
    // 4096 inputs: the special values, then bit patterns spread over the
    // whole f32 range (both signs), 8 at a time.
    let mut rng = Rng(0x1234_5678);
    for block in 0..512u32 {
        let mut x = [0.0f32; 8];
        for (i, v) in x.iter_mut().enumerate() {
            let k = block.wrapping_mul(8).wrapping_add(i as u32);
            *v = match SPECIAL.get(k as usize) {
                Some(&s) => s,
                None => f32::from_bits(rng.next()),
            };
        }
        let v = f32x8::new(x);
        let l = math::logistic(v);
        h.vector(l.p);
        h.vector(l.q);
        h.vector(l.sp_pos);
        h.vector(l.sp_neg);
        h.vector(math::sigmoid(v));
        let (dp, dq) = math::sigmoid_pair_decode(math::sigmoid_pair_coded(v).1);
        h.vector(dp);
        h.vector(dq);
        let unit = v
            .abs()
            .simd_gt(f32x8::ONE)
            .select(f32x8::ONE / v.abs(), v.abs());
        h.vector(math::ln(unit));
        h.vector(math::ln_one_minus(unit));
        h.vector(math::one_minus_exp_neg(v.abs()));
        h.vector(math::pow_nonneg(unit, 1.5));
    }
}

const N: usize = 203; // 25 vectors and a tail of 3

fn losses(h: &mut Fnv) {
    let mut rng = Rng(0x9E37_79B9);
    let mut logits = [0.0f32; N];
    let mut probs = [0.0f32; N];
    let mut soft = [0.0f32; N];
    let mut mask = [0u8; N];
    let rows = logits
        .iter_mut()
        .zip(&mut probs)
        .zip(&mut soft)
        .zip(&mut mask);
    for (i, (((x, p), s), m)) in rows.enumerate() {
        let y = u8::from(rng.unit() < 0.4);
        *x = match SPECIAL.get(i) {
            Some(&s) if i != 4 => s, // no NaN here: one NaN would hide every other bit
            _ => (f32::from(y) * 2.0 - 1.0) * 2.0 + 8.0 * (rng.unit() - 0.5),
        };
        *p = rng.unit();
        *s = rng.unit();
        *m = if i % 17 == 3 { 255 } else { y };
    }
    let ign = Some(255.0);
    let mut grad = [0.0f32; N];
    for len in [0, 1, 7, 8, 9, 128, 129, N] {
        let (Some(x), Some(p), Some(s), Some(m)) = (
            logits.get(..len),
            probs.get(..len),
            soft.get(..len),
            mask.get(..len),
        ) else {
            continue;
        };
        let r = Region::default();
        let rp = r.with_from_logits(false);
        h.result(binary::dice(x, m, &r.with_ignore_index(ign)));
        h.result(binary::jaccard(x, s, &r.with_smooth(1.0)));
        h.result(binary::dice(p, s, &rp.with_log_loss(true)));
        h.result(binary::tversky(
            x,
            s,
            &Tversky {
                region: r,
                alpha: 0.3,
                beta: 0.7,
                gamma: 0.75,
            },
        ));
        h.result(binary::bce(p, s, &Bce::default()));
        h.result(binary::bce_with_logits(
            x,
            s,
            &BceWithLogits {
                pos_weight: 2.5,
                reduction: Reduction::Sum,
            },
        ));
        h.result(binary::soft_bce(
            x,
            m,
            &SoftBce::default()
                .with_smooth_factor(Some(0.1))
                .with_ignore_index(ign),
        ));
        for gamma in [0.0, 1.0, 2.0, 3.0, 4.0, 1.5, 0.75] {
            let f = Focal::default().with_gamma(gamma);
            h.result(binary::focal(
                x,
                m,
                &f.with_alpha(Some(0.25)).with_ignore_index(ign),
            ));
            h.result(binary::focal(
                p,
                s,
                &f.with_from_logits(false).with_normalized(true),
            ));
            h.result(binary::sigmoid_focal(
                x,
                s,
                &SigmoidFocal::default().with_gamma(gamma),
            ));
        }
        h.result(binary::focal(
            x,
            s,
            &Focal::default().with_reduced_threshold(Some(0.5)),
        ));
        h.result(binary::mcc(p, s, &Mcc::default()));
        h.result(binary::mcc(x, s, &Mcc::default().with_from_logits(true)));
        h.result(binary::hard_mcc(
            p,
            m,
            &HardMcc::default().with_threshold(0.3),
        ));
        gradients(h, x, s, m, &mut grad);
        // The fused pass, streamed in rows of 13.
        let cfg = StatsConfig::default().with_ignore_index(ign);
        if let Ok(mut acc) = BinaryAccumulator::new(cfg) {
            for (xr, mr) in x.chunks(13).zip(m.chunks(13)) {
                let _ = acc.update(xr, mr);
            }
            let st = acc.stats();
            for v in [
                st.region.intersection,
                st.region.false_pos,
                st.region.false_neg,
                st.soft.tp,
                st.soft.tn,
                st.bce.neg_a,
                st.bce.pos_b,
                st.focal.pos,
                st.focal.neg,
                st.focal.modulator,
                st.sigmoid_focal.pos,
                st.hard.tp as f64,
                st.hard.tn as f64,
            ] {
                h.word(v as f32);
                h.word((v - f64::from(v as f32)) as f32);
            }
        }
    }
}

/// Two binary backward passes, the loss and every gradient element: one
/// through σ's code kept between two passes (Dice), one fused elementwise
/// pass (BCE with logits). Only these two: every backward pass compiled
/// into the library costs every target's build (~20 s for all of them);
/// the others share their passes and primitives.
fn gradients(h: &mut Fnv, x: &[f32], s: &[f32], m: &[u8], grad: &mut [f32; N]) {
    let Some(g) = grad.get_mut(..x.len()) else {
        return;
    };
    let r = Region::default().with_ignore_index(Some(255.0));
    h.backward(bw::dice(x, m, &r, g, 0.5), g);
    let bl = BceWithLogits::default().with_pos_weight(2.5);
    h.backward(bw::bce_with_logits(x, s, &bl, g, 1.0), g);
}

/// The hash of every primitive, every binary loss and two binary backward
/// passes on fixed inputs.
pub fn fingerprint() -> u64 {
    let mut h = Fnv(0xCBF2_9CE4_8422_2325);
    primitives(&mut h);
    losses(&mut h);
    h.0
}

/// The fingerprint of the multiclass and multilabel modes every target must
/// produce ([`fingerprint_nchw`]).
#[cfg(feature = "nchw")]
pub const EXPECTED_NCHW: u64 = 9_836_929_926_500_616_384;

/// The hash of every multiclass and multilabel loss, forward and backward
/// (the loss and every gradient element), on fixed inputs: class counts 3,
/// 5 and 17 (each per-class capacity the passes size their arrays by), odd
/// pixel counts (every tail), two images, ignored pixels, class weights,
/// label smoothing, per-image reduction, logits and probabilities, integer
/// and real focal γ. Apart from [`fingerprint`] because these modes are a
/// feature (`nchw`) that a binary-only firmware leaves out.
///
/// ```
/// assert_eq!(segloss::selftest::fingerprint_nchw(), segloss::selftest::EXPECTED_NCHW);
/// ```
#[cfg(feature = "nchw")]
pub fn fingerprint_nchw() -> u64 {
    let mut h = Fnv(0xCBF2_9CE4_8422_2325);
    for (n, c, s) in [(2, 3, 37), (1, 5, 29), (1, 17, 9)] {
        nchw::multiclass(&mut h, n, c, s);
        nchw::multilabel(&mut h, n, c, s);
    }
    h.0
}

#[cfg(feature = "nchw")]
mod nchw {
    use super::{Fnv, Rng, SPECIAL};
    use crate::backward::{multiclass as bmc, multilabel as bml};
    use crate::config::{Focal, Region, Tversky};
    use crate::multiclass::{Classes, CrossEntropy, Loss, Shape};
    use crate::{multiclass as mc, multilabel as ml};

    /// The largest `N·C·S` of [`super::fingerprint_nchw`]'s shapes.
    const MAX: usize = 222;

    /// Fixed inputs of `len` elements: logits (a few special values, no
    /// NaN or ∞, which would make a whole pixel NaN and hide its other
    /// bits), probabilities, and soft targets.
    fn inputs(seed: u32, len: usize) -> ([f32; MAX], [f32; MAX], [f32; MAX]) {
        let mut rng = Rng(seed);
        let (mut x, mut p, mut t) = ([0.0f32; MAX], [0.0f32; MAX], [0.0f32; MAX]);
        for (i, ((x, p), t)) in x.iter_mut().zip(&mut p).zip(&mut t).take(len).enumerate() {
            *x = match SPECIAL.get(i) {
                Some(&s) if s.is_finite() && s.abs() < 1e3 => s,
                _ => 12.0 * (rng.unit() - 0.5),
            };
            *p = rng.unit();
            *t = if i % 7 == 2 {
                rng.unit()
            } else {
                f32::from(u8::from(rng.unit() < 0.4))
            };
        }
        (x, p, t)
    }

    /// The region, focal and combined losses both modes share, for logits
    /// (`from_logits`) or probabilities.
    fn regions(from_logits: bool, ignore: Option<f32>) -> [Tversky; 3] {
        let r = Region::default()
            .with_from_logits(from_logits)
            .with_ignore_index(ignore);
        [
            Tversky::dice(r),
            Tversky::jaccard(r.with_smooth(1.0).with_log_loss(true)),
            Tversky {
                region: r,
                alpha: 0.3,
                beta: 0.7,
                gamma: 0.75,
            },
        ]
    }

    fn focals(from_logits: bool, ignore: Option<f32>) -> [Focal; 3] {
        let f = Focal::default()
            .with_from_logits(from_logits)
            .with_ignore_index(ignore);
        [
            f,
            f.with_gamma(1.5).with_alpha(Some(0.25)),
            f.with_gamma(0.75).with_normalized(true),
        ]
    }

    pub(super) fn multiclass(h: &mut Fnv, n: usize, c: usize, s: usize) {
        let Ok(shape) = Shape::new(n, c, s) else {
            return;
        };
        let len = shape.len();
        let (x, p, _) = inputs(0x85EB_CA6B ^ len as u32, len);
        let (Some(x), Some(p)) = (x.get(..len), p.get(..len)) else {
            return;
        };
        // Class ids: u8 with 255 ignored (the region and focal losses with
        // an ignore value), the same without it, and i64 with −100 ignored
        // (the cross entropy's default).
        let mut rng = Rng(0xC2B2_AE35);
        let (mut ids, mut clean, mut wide) = ([0u8; MAX], [0u8; MAX], [0i64; MAX]);
        let rows = ids.iter_mut().zip(&mut clean).zip(&mut wide);
        for ((a, b), w) in rows.take(shape.pixels()) {
            let c = c as u32;
            let k = rng.next().checked_rem(c.saturating_add(1)).unwrap_or(0);
            *b = k.checked_rem(c).unwrap_or(0) as u8;
            (*a, *w) = if k == c {
                (255, -100)
            } else {
                (*b, i64::from(*b))
            };
        }
        let pixels = shape.pixels();
        let (Some(ids), Some(clean), Some(wide)) =
            (ids.get(..pixels), clean.get(..pixels), wide.get(..pixels))
        else {
            return;
        };
        let weights = [
            0.5f32, 2.0, 1.0, 0.25, 1.5, 1.0, 1.0, 3.0, 1.0, 1.0, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0,
            2.0,
        ];
        let picked = [0usize, 2];
        let plain = Classes::default();
        let weighted = Classes::default()
            .with_weights(weights.get(..c))
            .with_classes(Some(&picked))
            .with_per_image(true);
        let ign = Some(255.0);
        let ce = CrossEntropy::default();
        let mut losses = [None; 16];
        let mut add = |l: Loss, k: &mut usize| {
            if let Some(slot) = losses.get_mut(*k) {
                *slot = Some(l);
                *k = k.saturating_add(1);
            }
        };
        let mut k = 0;
        for (logits, ignore) in [(true, ign), (false, None)] {
            regions(logits, ignore)
                .into_iter()
                .for_each(|t| add(Loss::Region(t), &mut k));
            focals(logits, ignore)
                .into_iter()
                .for_each(|f| add(Loss::Focal(f), &mut k));
        }
        add(Loss::CrossEntropy(ce.with_label_smoothing(0.1)), &mut k);
        add(
            Loss::RegionCe {
                region: regions(true, None)[0],
                ce: ce.with_ignore_index(None),
                lambda_region: 1.0,
                lambda_ce: 0.5,
            },
            &mut k,
        );
        add(
            Loss::RegionFocal {
                region: regions(true, ign)[2],
                focal: focals(true, ign)[1],
                lambda_region: 0.75,
                lambda_focal: 2.0,
            },
            &mut k,
        );
        let mut grad = [0.0f32; MAX];
        let Some(g) = grad.get_mut(..len) else {
            return;
        };
        for l in losses.iter().flatten() {
            let pred = match l {
                Loss::Region(t) if !t.region.from_logits => p,
                Loss::Focal(f) if !f.from_logits => p,
                _ => x,
            };
            let ignoring = match l {
                Loss::Region(t) => t.region.ignore_index.is_some(),
                Loss::Focal(f) => f.ignore_index.is_some(),
                Loss::RegionFocal { focal, .. } => focal.ignore_index.is_some(),
                Loss::CrossEntropy(_) | Loss::RegionCe { .. } => false,
            };
            for classes in [&plain, &weighted] {
                if let Loss::CrossEntropy(_) = l {
                    h.result(mc::loss(pred, wide, shape, l, classes));
                    h.backward(bmc::loss(pred, wide, shape, l, classes, g, 0.5), g);
                } else {
                    let ids = if ignoring { ids } else { clean };
                    h.result(mc::loss(pred, ids, shape, l, classes));
                    h.backward(bmc::loss(pred, ids, shape, l, classes, g, 0.5), g);
                }
            }
        }
    }

    pub(super) fn multilabel(h: &mut Fnv, n: usize, c: usize, s: usize) {
        let Ok(shape) = Shape::new(n, c, s) else {
            return;
        };
        let len = shape.len();
        let (x, p, t) = inputs(0x27D4_EB2F ^ len as u32, len);
        let (Some(x), Some(p), Some(t)) = (x.get(..len), p.get(..len), t.get(..len)) else {
            return;
        };
        // Hard u8 targets with 255 ignored.
        let mut m = [0u8; MAX];
        for (i, (m, t)) in m.iter_mut().zip(t).enumerate() {
            *m = if i % 11 == 5 {
                255
            } else {
                u8::from(*t >= 0.5)
            };
        }
        let Some(m) = m.get(..len) else {
            return;
        };
        let picked = [1usize];
        let classes = [
            Classes::default(),
            Classes::default()
                .with_classes(Some(&picked))
                .with_per_image(true),
        ];
        let mut grad = [0.0f32; MAX];
        let Some(g) = grad.get_mut(..len) else {
            return;
        };
        for (logits, ignore) in [(true, Some(255.0)), (false, None)] {
            let pred = if logits { x } else { p };
            let [r0, r1, r2] = regions(logits, ignore);
            let [f0, f1, f2] = focals(logits, ignore);
            let losses = [
                ml::Loss::Region(r0),
                ml::Loss::Region(r1),
                ml::Loss::Region(r2),
                ml::Loss::Focal(f0),
                ml::Loss::Focal(f1),
                ml::Loss::Focal(f2),
                ml::Loss::RegionFocal {
                    region: r2,
                    focal: f1,
                    lambda_region: 0.75,
                    lambda_focal: 2.0,
                },
            ];
            for l in &losses {
                for cl in &classes {
                    if ignore.is_some() {
                        h.result(ml::loss(pred, m, shape, l, cl));
                        h.backward(bml::loss(pred, m, shape, l, cl, g, 0.5), g);
                    } else {
                        h.result(ml::loss(pred, t, shape, l, cl));
                        h.backward(bml::loss(pred, t, shape, l, cl, g, 0.5), g);
                    }
                }
            }
        }
    }
}
