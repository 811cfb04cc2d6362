//! The f64 oracle (`tests/support/oracle.rs`) against every conformance case.
mod support;

use support::cases::{self, Case};
use support::oracle;

fn reference_path() -> String {
    std::env::var("SEGLOSS_REFERENCE")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/reference/smp_torch.jsonl").to_owned())
}

fn eval(c: &Case) -> f64 {
    oracle::loss(&c.kind, &c.mode, c.from_logits, c.shape, &c.params, &c.pred_f64(), &c.target)
}

#[test]
fn oracle_matches_reference() {
    let cases = cases::load(reference_path()).expect("load reference");
    let mut bad = Vec::new();
    let (mut vok, mut gok, mut gskip) = (0, 0, 0);
    for c in &cases {
        let got = eval(c);
        let tol = 1e-9 + 1e-9 * c.value.abs();
        if (got - c.value).abs() <= tol {
            vok += 1;
        } else {
            bad.push(format!("{} value: got {got:e} want {:e} diff {:e}", c.id, c.value, got - c.value));
        }
        if let Some(g) = &c.grad {
            let fd = oracle::grad_fd(&c.kind, &c.mode, c.from_logits, c.shape, &c.params, &c.pred_f64(), &c.target);
            let gmax = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let gtol = 1e-5 * gmax + 1e-7;
            let mut worst = (0usize, 0.0f64);
            for i in 0..g.len() {
                let d = (fd[i] - g[i]).abs();
                if !(d <= worst.1) {
                    worst = (i, d);
                }
            }
            if worst.1 <= gtol {
                gok += 1;
            } else {
                let i = worst.0;
                bad.push(format!(
                    "{} grad[{i}] (p={} y={}): fd {:e} want {:e} diff {:e} tol {gtol:e}",
                    c.id, c.pred[i], c.target.get(i).copied().unwrap_or(f64::NAN), fd[i], g[i], worst.1
                ));
                let _ = &mut gskip;
            }
        }
    }
    let ngrad = cases.iter().filter(|c| c.grad.is_some()).count();
    println!("{} cases: {vok} values matched, {gok}/{ngrad} gradients matched, {gskip} skipped", cases.len());
    for b in &bad {
        println!("{b}");
    }
    assert!(bad.is_empty(), "{} mismatches", bad.len());
}
