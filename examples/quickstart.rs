//! segloss in one screen: a synthetic segmentation (a disc mask and noisy
//! logits), every binary loss and metric, and the streaming use.
//!
//! ```text
//! cargo run --release --example quickstart
//! ```

use segloss::{
    Bce, BceWithLogits, BinaryAccumulator, Focal, HardMcc, Mcc, Region, SigmoidFocal, SoftBce,
    StatsConfig, Tversky, binary,
};

const SIDE: usize = 64;

/// A 64×64 image: a disc of radius 20 as the target, and logits that agree
/// with it up to deterministic noise (a small xorshift generator).
fn synthetic() -> (Vec<f32>, Vec<u8>) {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let (mut logits, mut mask) = (Vec::new(), Vec::new());
    for r in 0..SIDE {
        for c in 0..SIDE {
            let (dr, dc) = (r as f32 - 31.5, c as f32 - 31.5);
            let inside = dr * dr + dc * dc < 20.0 * 20.0;
            mask.push(u8::from(inside));
            logits.push(if inside { 2.0 } else { -2.0 } + 6.0 * noise());
        }
    }
    (logits, mask)
}

fn main() -> Result<(), segloss::Error> {
    let (logits, mask) = synthetic();
    let probs: Vec<f32> = logits.iter().map(|&x| 1.0 / (1.0 + (-x).exp())).collect();
    let target: Vec<f32> = mask.iter().map(|&m| f32::from(m)).collect();
    println!(
        "{SIDE}×{SIDE} disc mask, noisy logits ({} pixels)\n",
        logits.len()
    );

    let rows: [(&str, f32); 12] = [
        ("dice", binary::dice(&logits, &mask, &Region::default())?),
        (
            "jaccard",
            binary::jaccard(&logits, &mask, &Region::default())?,
        ),
        (
            "tversky α=0.3 β=0.7",
            binary::tversky(&logits, &mask, &Tversky::new(0.3, 0.7, 1.0)?)?,
        ),
        (
            "focal tversky γ=4/3",
            binary::tversky(&logits, &mask, &Tversky::new(0.3, 0.7, 4.0 / 3.0)?)?,
        ),
        (
            "bce (probabilities)",
            binary::bce(&probs, &target, &Bce::default())?,
        ),
        (
            "bce_with_logits",
            binary::bce_with_logits(&logits, &mask, &BceWithLogits::default())?,
        ),
        (
            "soft_bce smooth=0.1",
            binary::soft_bce(
                &logits,
                &target,
                &SoftBce::default().with_smooth_factor(Some(0.1)),
            )?,
        ),
        (
            "focal (smp) γ=2",
            binary::focal(&logits, &mask, &Focal::default())?,
        ),
        (
            "sigmoid_focal (tv)",
            binary::sigmoid_focal(&logits, &mask, &SigmoidFocal::default())?,
        ),
        ("mcc (soft)", binary::mcc(&probs, &mask, &Mcc::default())?),
        (
            "hard_mcc @0.5",
            binary::hard_mcc(&probs, &mask, &HardMcc::default())?,
        ),
        (
            "log dice",
            binary::dice(&logits, &mask, &Region::default().with_log_loss(true))?,
        ),
    ];
    println!("{:<22} {:>10}", "loss", "value");
    println!("{}", "-".repeat(33));
    for (name, v) in rows {
        println!("{name:<22} {v:>10.6}");
    }

    let c = binary::confusion(&probs, &mask, &HardMcc::default())?;
    println!(
        "\nhard counts at p > 0.5: TP {} FP {} FN {} TN {}",
        c.tp, c.fp, c.fn_, c.tn
    );
    println!(
        "precision {:.4}  recall {:.4}  F1 {:.4}  IoU {:.4}",
        c.precision(),
        c.recall(),
        c.f1(),
        c.iou()
    );

    // Streaming: firmware sees one image row at a time. One fused pass per
    // row; every loss comes out of the same statistics at the end.
    let mut acc = BinaryAccumulator::new(StatsConfig::default())?;
    for (row, row_mask) in logits.chunks(SIDE).zip(mask.chunks(SIDE)) {
        acc.update(row, row_mask)?;
    }
    // Two halves accumulated separately (say, on two threads) and merged.
    let (top, bottom) = logits.split_at(logits.len() / 2);
    let (mtop, mbottom) = mask.split_at(mask.len() / 2);
    let mut a = BinaryAccumulator::new(StatsConfig::default())?;
    let mut b = BinaryAccumulator::new(StatsConfig::default())?;
    a.update(top, mtop)?;
    b.update(bottom, mbottom)?;
    a.merge(&b)?;
    println!(
        "\nstreaming, {SIDE} rows of {SIDE}:   dice {:.6}  focal {:.6}  bce {:.6}",
        acc.dice(&Region::default())?,
        acc.focal(&Focal::default())?,
        acc.bce_with_logits(&BceWithLogits::default())?
    );
    println!(
        "two halves, merged:       dice {:.6}  focal {:.6}  bce {:.6}",
        a.dice(&Region::default())?,
        a.focal(&Focal::default())?,
        a.bce_with_logits(&BceWithLogits::default())?
    );
    Ok(())
}
