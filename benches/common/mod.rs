//! Shared by the criterion bench (`benches/kernels.rs`) and the quick table
//! (`examples/throughput.rs`): the input data, the roofline, the naive scalar
//! baseline and the list of kernels, so both measure exactly the same code.
#![allow(dead_code)]

use segloss::{
    BceWithLogits, BinaryAccumulator, Focal, HardMcc, Mcc, Region, RegionAccumulator, SigmoidFocal,
    SoftBce, StatsConfig, Tversky, backward, binary,
};
use std::hint::black_box;
use wide::f32x8;

/// A synthetic binary segmentation: logits, their probabilities, a 0/1 target.
pub struct Data {
    pub logits: Vec<f32>,
    pub probs: Vec<f32>,
    pub target: Vec<f32>,
    pub mask: Vec<u8>,
}

impl Data {
    /// `n` elements: a disc-like target and noisy logits that mostly agree with it.
    pub fn new(n: usize) -> Data {
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let mut rnd = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32
        };
        let side = (n as f64).sqrt().max(1.0) as usize;
        let mut logits = Vec::with_capacity(n);
        let mut target = Vec::with_capacity(n);
        for i in 0..n {
            let (r, c) = ((i / side) as f32, (i % side) as f32);
            let h = side as f32 / 2.0;
            let inside = (r - h) * (r - h) + (c - h) * (c - h) < h * h / 2.0;
            let y = if inside { 1.0 } else { 0.0 };
            logits.push((2.0 * y - 1.0) * 2.5 + 6.0 * (rnd() - 0.5));
            target.push(y);
        }
        let probs = logits.iter().map(|&x| 1.0 / (1.0 + (-x).exp())).collect();
        let mask = target.iter().map(|&y| y as u8).collect();
        Data {
            logits,
            probs,
            target,
            mask,
        }
    }
}

/// The roofline: a SIMD sum over the same bytes a binary kernel reads
/// (`pred` and an f32 `target`), four independent accumulators.
pub fn roofline(pred: &[f32], target: &[f32]) -> f32 {
    let mut acc = [f32x8::ZERO; 4];
    let pc = pred.chunks_exact(32);
    let tc = target.chunks_exact(32);
    let tail: f32 = pc.remainder().iter().chain(tc.remainder()).sum();
    for (p, t) in pc.zip(tc) {
        for (k, a) in acc.iter_mut().enumerate() {
            let o = 8 * k;
            let p8: [f32; 8] = p[o..o + 8].try_into().unwrap();
            let t8: [f32; 8] = t[o..o + 8].try_into().unwrap();
            *a += f32x8::new(p8) + f32x8::new(t8);
        }
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])).reduce_add() + tail
}

/// The naive baseline: a plain scalar loop with `libm`, one element at a
/// time, f32 running sums (BCE with logits and the Dice sums).
pub fn naive_scalar(pred: &[f32], target: &[f32]) -> f32 {
    let (mut bce, mut sp, mut sy, mut inter) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
    for (&x, &y) in pred.iter().zip(target) {
        let l = libm::log1pf(libm::expf(-x.abs())) + (-x).max(0.0);
        bce += (1.0 - y) * x + l;
        let p = 1.0 / (1.0 + libm::expf(-x));
        sp += p;
        sy += y;
        inter += p * y;
    }
    bce / pred.len() as f32 + 1.0 - 2.0 * inter / (sp + sy)
}

/// One benchmarked kernel.
pub struct Kernel {
    pub name: &'static str,
    pub run: fn(&Data) -> f32,
}

fn fused(d: &Data, from_logits: bool) -> f32 {
    let cfg = StatsConfig::default().with_from_logits(from_logits);
    let mut acc = BinaryAccumulator::new(cfg).unwrap();
    let pred = if from_logits { &d.logits } else { &d.probs };
    acc.update(pred, &d.target).unwrap();
    acc.stats().region.pred() as f32
}

thread_local! {
    /// The gradient buffer of the backward kernels (allocated once per size).
    static GRAD: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs a backward kernel with a reused gradient buffer of `n` elements;
/// returns the loss plus one gradient element (so neither is optimised away).
fn with_grad(n: usize, f: impl FnOnce(&mut [f32]) -> f32) -> f32 {
    GRAD.with(|g| {
        let mut g = g.borrow_mut();
        g.resize(n, 0.0);
        let loss = f(&mut g);
        loss + g[n / 2]
    })
}

/// Focal forward + backward from the logits with `cfg` (the focal fwd+bwd rows).
fn focal_fwd_bwd(d: &Data, cfg: &Focal) -> f32 {
    with_grad(d.logits.len(), |g| {
        backward::binary::focal(&d.logits, &d.target, cfg, g, 1.0).unwrap()
    })
}

/// Every kernel, in table order. The first two are the reference points.
pub const KERNELS: &[Kernel] = &[
    Kernel {
        name: "roofline (SIMD sum)",
        run: |d| roofline(&d.logits, &d.target),
    },
    Kernel {
        name: "naive scalar libm",
        run: |d| naive_scalar(&d.logits, &d.target),
    },
    Kernel {
        name: "fused stats, logits",
        run: |d| fused(d, true),
    },
    Kernel {
        name: "fused stats, probs",
        run: |d| fused(d, false),
    },
    Kernel {
        name: "dice, logits",
        run: |d| binary::dice(&d.logits, &d.target, &Region::default()).unwrap(),
    },
    Kernel {
        name: "dice, probs",
        run: |d| {
            let cfg = Region::default().with_from_logits(false);
            binary::dice(&d.probs, &d.target, &cfg).unwrap()
        },
    },
    Kernel {
        name: "dice, logits, u8 mask",
        run: |d| binary::dice(&d.logits, &d.mask, &Region::default()).unwrap(),
    },
    Kernel {
        name: "dice, logits, u8, streamed 512/row",
        run: |d| {
            let r = Region::default();
            let mut acc = RegionAccumulator::new(r).unwrap();
            for (p, t) in d.logits.chunks(512).zip(d.mask.chunks(512)) {
                acc.update(p, t).unwrap();
            }
            acc.dice(&r).unwrap()
        },
    },
    Kernel {
        name: "tversky γ=4/3, logits",
        run: |d| {
            let cfg = Tversky::new(0.3, 0.7, 4.0 / 3.0).unwrap();
            binary::tversky(&d.logits, &d.target, &cfg).unwrap()
        },
    },
    Kernel {
        name: "bce_with_logits",
        run: |d| binary::bce_with_logits(&d.logits, &d.target, &BceWithLogits::default()).unwrap(),
    },
    Kernel {
        name: "bce (probs)",
        run: |d| binary::bce(&d.probs, &d.target, &Default::default()).unwrap(),
    },
    Kernel {
        name: "soft_bce",
        run: |d| {
            let cfg = SoftBce::default().with_smooth_factor(Some(0.1));
            binary::soft_bce(&d.logits, &d.target, &cfg).unwrap()
        },
    },
    Kernel {
        name: "focal γ=2, logits",
        run: |d| binary::focal(&d.logits, &d.target, &Focal::default()).unwrap(),
    },
    Kernel {
        name: "focal γ=1.5, logits",
        run: |d| {
            let cfg = Focal::default().with_gamma(1.5);
            binary::focal(&d.logits, &d.target, &cfg).unwrap()
        },
    },
    Kernel {
        name: "focal γ=0.75, logits",
        run: |d| {
            let cfg = Focal::default().with_gamma(0.75);
            binary::focal(&d.logits, &d.target, &cfg).unwrap()
        },
    },
    Kernel {
        name: "sigmoid_focal",
        run: |d| binary::sigmoid_focal(&d.logits, &d.target, &SigmoidFocal::default()).unwrap(),
    },
    Kernel {
        name: "mcc (probs)",
        run: |d| binary::mcc(&d.probs, &d.target, &Mcc::default()).unwrap(),
    },
    Kernel {
        name: "hard_mcc (probs)",
        run: |d| binary::hard_mcc(&d.probs, &d.target, &HardMcc::default()).unwrap(),
    },
    Kernel {
        name: "dice fwd+bwd, logits",
        run: |d| {
            with_grad(d.logits.len(), |g| {
                backward::binary::dice(&d.logits, &d.target, &Region::default(), g, 1.0).unwrap()
            })
        },
    },
    Kernel {
        name: "jaccard fwd+bwd, logits",
        run: |d| {
            with_grad(d.logits.len(), |g| {
                backward::binary::jaccard(&d.logits, &d.target, &Region::default(), g, 1.0).unwrap()
            })
        },
    },
    Kernel {
        name: "tversky γ=4/3 fwd+bwd, logits",
        run: |d| {
            let cfg = Tversky::new(0.3, 0.7, 4.0 / 3.0).unwrap();
            with_grad(d.logits.len(), |g| {
                backward::binary::tversky(&d.logits, &d.target, &cfg, g, 1.0).unwrap()
            })
        },
    },
    Kernel {
        name: "bce (probs) fwd+bwd",
        run: |d| {
            with_grad(d.probs.len(), |g| {
                backward::binary::bce(&d.probs, &d.target, &Default::default(), g, 1.0).unwrap()
            })
        },
    },
    Kernel {
        name: "bce_with_logits fwd+bwd",
        run: |d| {
            with_grad(d.logits.len(), |g| {
                let cfg = BceWithLogits::default();
                backward::binary::bce_with_logits(&d.logits, &d.target, &cfg, g, 1.0).unwrap()
            })
        },
    },
    Kernel {
        name: "soft_bce fwd+bwd",
        run: |d| {
            let cfg = SoftBce::default().with_smooth_factor(Some(0.1));
            with_grad(d.logits.len(), |g| {
                backward::binary::soft_bce(&d.logits, &d.target, &cfg, g, 1.0).unwrap()
            })
        },
    },
    Kernel {
        name: "focal γ=2 fwd+bwd, logits",
        run: |d| focal_fwd_bwd(d, &Focal::default()),
    },
    Kernel {
        name: "focal γ=1.5 fwd+bwd, logits",
        run: |d| focal_fwd_bwd(d, &Focal::default().with_gamma(1.5)),
    },
    Kernel {
        name: "focal γ=0.75 fwd+bwd, logits",
        run: |d| focal_fwd_bwd(d, &Focal::default().with_gamma(0.75)),
    },
    Kernel {
        name: "focal γ=2 normalized fwd+bwd, logits",
        run: |d| {
            let cfg = Focal {
                normalized: true,
                ..Focal::default()
            };
            focal_fwd_bwd(d, &cfg)
        },
    },
    Kernel {
        name: "sigmoid_focal fwd+bwd",
        run: |d| {
            with_grad(d.logits.len(), |g| {
                let cfg = SigmoidFocal::default();
                backward::binary::sigmoid_focal(&d.logits, &d.target, &cfg, g, 1.0).unwrap()
            })
        },
    },
    Kernel {
        name: "mcc fwd+bwd, logits",
        run: |d| {
            let cfg = Mcc::default().with_from_logits(true);
            with_grad(d.logits.len(), |g| {
                backward::binary::mcc(&d.logits, &d.target, &cfg, g, 1.0).unwrap()
            })
        },
    },
];

/// Runs a kernel and keeps the optimiser from discarding it.
pub fn run(k: &Kernel, d: &Data) -> f32 {
    black_box((k.run)(black_box(d)))
}
