//! Conformance runner: checks segloss against any file in the reference
//! format (`../shared/reference/FORMAT.md`).
//!
//! ```text
//! cargo run --release --example conformance -- ../shared/reference/smp_torch.jsonl
//! ```
//!
//! Prints one line per failing case (id, expected, got) and ends with
//! `N passed, M failed, K skipped`; exits with status 1 if any case failed.

#[path = "../tests/support/mod.rs"]
mod support;

use support::run::{Outcome, value};
use support::tolerance::CONFORMANCE_VALUE;

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
    for c in &cases {
        match value(c) {
            Outcome::Value(got) if CONFORMANCE_VALUE.check(got, c.value, 0.0) => passed += 1,
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
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    if failed > 0 {
        std::process::exit(1);
    }
}
