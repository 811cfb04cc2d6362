//! Backward passes: every conformance gradient (binary, multiclass,
//! multilabel) within FORMAT.md's bound, and the loss they return equal to
//! the forward's.

use crate::support;

use support::run::{GradOutcome, Outcome, grad, grad_mismatches, value};
use support::tolerance::CONFORMANCE_GRAD;

#[test]
fn binary_gradients_match_the_reference() {
    let cases = support::cases::load(support::reference_path()).expect("reference file");
    let (mut passed, mut skipped, mut failed) = (0, 0, Vec::new());
    let mut out = Vec::new();
    for c in &cases {
        match grad(c, &mut out) {
            GradOutcome::Value(loss) => {
                // The backward form returns exactly the forward's loss.
                match value(c) {
                    Outcome::Value(fwd) if fwd.to_bits() == loss.to_bits() => {}
                    other => failed.push(format!("{}: loss {loss} but forward {other:?}", c.id)),
                }
                let want = c.grad.as_ref().expect("case with a gradient");
                let bad = grad_mismatches(&out, want, &CONFORMANCE_GRAD);
                if bad.is_empty() {
                    passed += 1;
                } else {
                    let (i, g, w) = bad[0];
                    failed.push(format!(
                        "{} ({} of {} elements off): grad[{i}] = {g:e}, want {w:e}",
                        c.id,
                        bad.len(),
                        want.len()
                    ));
                }
            }
            GradOutcome::Skip(why) => {
                if c.grad.is_some() {
                    failed.push(format!("{}: {} case skipped: {why}", c.id, c.mode));
                }
                skipped += 1;
            }
            GradOutcome::Error(e) => failed.push(format!("{}: error {e}", c.id)),
        }
    }
    println!(
        "gradients: {passed} passed, {} failed, {skipped} skipped",
        failed.len()
    );
    assert!(failed.is_empty(), "failing cases:\n{}", failed.join("\n"));
    let with_grad = |mode: &str| {
        cases
            .iter()
            .filter(|c| c.mode == mode && c.grad.is_some())
            .count()
    };
    let all = with_grad("binary") + with_grad("multiclass") + with_grad("multilabel");
    assert_eq!(passed, all, "every gradient case must run");
    assert!(
        with_grad("binary") >= 150,
        "only {passed} gradient cases ran"
    );
    assert!(
        with_grad("multiclass") >= 60 && with_grad("multilabel") >= 20,
        "the reference file lost its multiclass / multilabel gradients"
    );
}
