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
//! everywhere. Firmware can call it at start-up to validate a port.
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
