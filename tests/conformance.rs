//! Every case of the shared conformance file that segloss supports, through
//! the public API: the FORMAT.md tolerance, and SPEC's tighter accuracy.

use crate::support;

use support::run::{Outcome, value};
use support::tolerance::{CONFORMANCE_VALUE, CROSS_ENTROPY, REGION};

#[test]
fn binary_cases_match_the_reference() {
    let cases = support::cases::load(support::reference_path()).expect("reference file");
    let (mut passed, mut skipped, mut failed) = (0, 0, Vec::new());
    for c in &cases {
        match value(c) {
            Outcome::Value(got) => {
                let spec = match c.kind.as_str() {
                    "dice" | "jaccard" | "tversky" | "mcc" | "hard_mcc" => REGION,
                    _ => CROSS_ENTROPY,
                };
                if CONFORMANCE_VALUE.check(got, c.value, 0.0) && spec.check(got, c.value, 0.0) {
                    passed += 1;
                } else {
                    failed.push(format!("{}: expected {}, got {got}", c.id, c.value));
                }
            }
            Outcome::Skip(why) => {
                assert_ne!(c.mode, "binary", "{}: binary case skipped: {why}", c.id);
                skipped += 1;
            }
            Outcome::Error(e) => failed.push(format!("{}: error {e}", c.id)),
        }
    }
    println!(
        "{passed} passed, {} failed, {skipped} skipped",
        failed.len()
    );
    assert!(failed.is_empty(), "failing cases:\n{}", failed.join("\n"));
    assert!(passed >= 200, "only {passed} cases ran");
}
