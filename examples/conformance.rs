//! Conformance runner: checks segloss against any file in the reference
//! format (`../shared/reference/FORMAT.md`).
//!
//! ```text
//! cargo run --release --example conformance -- ../shared/reference/smp_torch.jsonl
//! ```
//!
//! A case with a `grad` passes only if its value and, where segloss has a
//! backward form for it, its gradient are both within FORMAT.md's bounds.
//!
//! Prints one line per failing case (id, expected, got), then how many
//! gradients were checked per mode, and ends with
//! `N passed, M failed, K skipped`; exits with status 1 if any case failed.

#[path = "../tests/support/mod.rs"]
mod support;

use support::run::{GradOutcome, Outcome, grad, grad_mismatches, value};
use support::tolerance::{CONFORMANCE_GRAD, CONFORMANCE_VALUE};

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(support::reference_path);
    let cases = match support::cases::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            std::process::exit(2);
        }
    };
    let (mut passed, mut failed, mut skipped) = (0usize, 0usize, 0usize);
    let mut out = Vec::new();
    // Gradients compared and within bounds, per mode.
    let mut grads: std::collections::BTreeMap<&str, usize> = Default::default();
    for c in &cases {
        match value(c) {
            Outcome::Value(got) if CONFORMANCE_VALUE.check(got, c.value, 0.0) => {
                match (grad(c, &mut out), &c.grad) {
                    (GradOutcome::Value(_), Some(want)) => {
                        let bad = grad_mismatches(&out, want, &CONFORMANCE_GRAD);
                        if let Some(&(i, g, w)) = bad.first() {
                            failed += 1;
                            println!(
                                "FAIL {}: gradient: {} elements off, grad[{i}] expected {w}, got {g}",
                                c.id,
                                bad.len()
                            );
                        } else {
                            passed += 1;
                            *grads.entry(c.mode.as_str()).or_default() += 1;
                        }
                    }
                    (GradOutcome::Error(e), _) => {
                        failed += 1;
                        println!("FAIL {}: gradient: error: {e}", c.id);
                    }
                    // No gradient in the case, or no backward form yet: value only.
                    _ => passed += 1,
                }
            }
            Outcome::Value(got) => {
                failed += 1;
                println!("FAIL {}: expected {}, got {got}", c.id, c.value);
            }
            Outcome::Error(e) => {
                failed += 1;
                println!("FAIL {}: expected {}, got error: {e}", c.id, c.value);
            }
            Outcome::Skip(_) => skipped += 1,
        }
    }
    let per_mode: Vec<String> = grads.iter().map(|(m, n)| format!("{m} {n}")).collect();
    println!(
        "gradients checked and passed: {} ({})",
        grads.values().sum::<usize>(),
        per_mode.join(", ")
    );
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    if failed > 0 {
        std::process::exit(1);
    }
}
