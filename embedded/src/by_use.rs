//! Flash by use (docs/targets.md "Flash by use"): firmwares that make one
//! kind of call each and print its result, built with `--features use-…`
//! (no checks, no fingerprint) and compared with the `baseline` firmware by
//! `bash .ci/targets.sh flash-by-use`. A firmware pays for what it calls:
//! LTO drops the rest.
//!
//! Every configuration and input passes through `black_box`, so the
//! compiler can drop neither the logits nor the probabilities kernel, and
//! every result is printed with `{:e}` of `unwrap_or(0.0)`, which the
//! baseline's own print already links.

use core::hint::black_box;

use cortex_m_semihosting::hprintln;
#[allow(unused_imports)] // each feature uses its own part
use segloss::{BinaryAccumulator, Error, Region, RegionAccumulator, StatsConfig, binary};

use crate::cases;

/// Prints one result.
fn show(name: &str, v: Result<f32, Error>) {
    hprintln!("{} {:e}", name, v.unwrap_or(0.0));
}

/// Calls `update` on each row of the mask in turn.
#[allow(dead_code)]
fn rows(
    mut update: impl FnMut(&[f32], &[u8]) -> Result<(), Error>,
    pred: &[f32],
) -> Result<(), Error> {
    let hard = black_box(&cases::HARD[..]);
    for (p, t) in pred.chunks(cases::COLS).zip(hard.chunks(cases::COLS)) {
        update(p, t)?;
    }
    Ok(())
}

/// Makes the calls of every enabled `use-…` feature and prints their
/// results; returns 0 (nothing is checked).
pub fn run() -> usize {
    let logits = black_box(&cases::LOGITS[..]);
    let prob = black_box(&cases::PROB[..]);
    let hard = black_box(&cases::HARD[..]);
    let _ = (logits, prob, hard);

    // `binary::dice`, one shot, on probabilities.
    #[cfg(feature = "use-dice")]
    show(
        "dice",
        binary::dice(
            prob,
            hard,
            &black_box(Region::default().with_from_logits(false)),
        ),
    );

    // A `RegionAccumulator` fed row by row, then `dice`.
    #[cfg(feature = "use-region-stream")]
    {
        let cfg = black_box(Region::default());
        let acc = RegionAccumulator::new(cfg).and_then(|mut a| {
            rows(|p, t| a.update(p, t), logits)?;
            Ok(a)
        });
        show("region stream dice", acc.and_then(|a| a.dice(&cfg)));
    }

    // A `BinaryAccumulator` fed row by row, then `dice` (its pass forms
    // every sum, whichever loss is read) or all ten losses.
    #[cfg(any(feature = "use-stream-dice", feature = "use-stream-ten"))]
    {
        let acc = BinaryAccumulator::new(black_box(StatsConfig::default())).and_then(|mut a| {
            rows(|p, t| a.update(p, t), logits)?;
            Ok(a)
        });
        #[cfg(feature = "use-stream-dice")]
        show(
            "stream dice",
            acc.and_then(|a| a.dice(&black_box(Region::default()))),
        );
        #[cfg(feature = "use-stream-ten")]
        {
            let c = black_box(crate::checks::Configs::new());
            for (name, v) in c.read_stream(acc) {
                show(name, v);
            }
        }
    }

    // All ten binary losses one shot (from logits, `bce` from
    // probabilities), as `--features ten` computes them, printed instead of
    // compared.
    #[cfg(feature = "use-ten")]
    {
        let inputs = crate::inputs();
        for (name, v) in crate::checks::ten(&inputs, &black_box(crate::checks::Configs::new())) {
            show(name, Ok(v));
        }
    }
    0
}
