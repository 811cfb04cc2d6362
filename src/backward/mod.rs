//! Backward passes: the gradient of every differentiable loss, fused with
//! its forward.
//!
//! # API scheme
//!
//! `segloss::backward::binary::LOSS(pred, target, cfg, grad, scale)` mirrors
//! [`segloss::binary::LOSS`](crate::binary) and returns the same loss value
//! (bit for bit: the statistics come from the same pass with the same terms),
//! and writes `scale · ∂loss/∂pred_i` into `grad[i]`. `scale` is autograd's
//! `grad_output` (pass `1.0` for the plain gradient); it is folded into the
//! scalar coefficients, so it costs no extra pass. The derivative is with
//! respect to the logits when the loss reads logits (`from_logits`, and
//! always for `bce_with_logits`, `soft_bce`, `sigmoid_focal`), else with
//! respect to the probabilities. `grad` must have `pred`'s length
//! ([`Error::GradientLength`] otherwise); its
//! content is unspecified when an error is returned. Every loss except
//! `hard_mcc` (a metric) has a backward form.
//!
//! [`multiclass`] and [`multilabel`] do the same for the NCHW modes:
//! `backward::multiclass::LOSS(pred, target, shape, cfg…, classes, grad,
//! scale)` mirrors [`segloss::multiclass::LOSS`](crate::multiclass) (and
//! `loss` / `loss_fixed::<C>` take any [`Loss`](crate::multiclass::Loss));
//! from logits the multiclass gradient runs through the softmax over the
//! channel planes.
//!
//! # Passes
//!
//! - Elementwise losses (`bce`, `bce_with_logits`, `soft_bce`,
//!   `sigmoid_focal`, `focal` without `normalized`): ONE pass that sums the
//!   loss terms and writes the gradient, the mean divisor being known upfront.
//!   `focal` with `normalized`, or with `ignore_index` and a mean (the kept
//!   count is global), runs its statistics pass first, then a gradient pass.
//! - Region losses and `mcc`: one statistics pass (the forward's), then one
//!   pass that writes the gradient from per-element terms and a few scalar
//!   coefficients computed in `f64`; the chain rule through σ is folded in
//!   (`dp/dx = p·q`). From logits the statistics pass also keeps σ's code
//!   (e^{−|x|}, its sign bit giving x's side) in `grad`, and the gradient
//!   pass decodes σ(x), σ(−x) from it with one division instead of a second
//!   exp: the same bits, and the gradient pass reads `grad` and the target
//!   only.
//! - Multiclass and multilabel: the same two passes with per-class
//!   coefficients (see each module's design notes for the cases that read
//!   the data a third time: per-image region losses with global terms, and
//!   multilabel Tversky with γ ≠ 1).
//!
//! No heap, no copy of the input. The gradient pass walks
//! `grad.chunks_exact_mut(8)` and computes the last partial vector padded,
//! storing only its valid lanes.
//!
//! # Gradient conventions (SPEC.md "Gradients", matching PyTorch autograd)
//!
//! - `d|p − y|/dp = sign(p − y)` with `sign(0) = 0`, so `∂I/∂p = 1/2` at `p = y`.
//! - A clamp that is active gives zero gradient on the clamped side:
//!   `max(den, eps)` of the region score, the `log_loss` clamp
//!   `max(score, eps)`, Tversky's `max(loss, 0)`, focal's probability clamp
//!   `[eps, 1 − eps]` and `max(Σfocal, 1e-6)`.
//! - Except `bce` on probabilities, which uses PyTorch's backward
//!   `∂l/∂p = (p − y) / max(p(1 − p), 1e-12)` for every `p` in `[0, 1]`.
//! - Elements whose target is `ignore_index` get gradient 0.
//! - Where the loss is identically 0 around the input (the empty-class rule:
//!   `Σy = 0`) the gradient is 0, also through Tversky's `(·)^γ` with γ < 1.
//! - Focal `normalized`: the gradient flows through `Σfocal` too;
//!   `reduced_threshold` r: the focal term is the constant 1 where `pt < r`.
//! - Where a focal modulator's base `1 − pt` is exactly 0 its derivative is
//!   taken as 0 (the limit of the product it appears in; PyTorch gives NaN
//!   there for γ < 1).
//!
//! # Example: Dice forward and backward from logits
//!
//! ```
//! use segloss::{backward, binary, Region};
//! let logits = [2.0f32, -1.0, 0.5, -3.0, 4.0, 0.0, 1.5, -0.5, 3.0];
//! let mask = [1u8, 0, 1, 0, 1, 1, 0, 0, 1];
//! let cfg = Region::default();
//! let mut grad = [0.0f32; 9];
//! let loss = backward::binary::dice(&logits, &mask, &cfg, &mut grad, 1.0).unwrap();
//! assert_eq!(loss, binary::dice(&logits, &mask, &cfg).unwrap());
//! // Raising a positive's logit lowers the loss; raising a negative's raises it.
//! assert!(grad[0] < 0.0 && grad[1] > 0.0);
//! // A step against the gradient lowers the loss.
//! let stepped: Vec<f32> = logits.iter().zip(&grad).map(|(x, g)| x - 0.5 * g).collect();
//! assert!(binary::dice(&stepped, &mask, &cfg).unwrap() < loss);
//! // `scale` multiplies the gradient (autograd's grad_output).
//! let mut half = [0.0f32; 9];
//! backward::binary::dice(&logits, &mask, &cfg, &mut half, 0.5).unwrap();
//! assert!((half[0] - 0.5 * grad[0]).abs() <= 1e-7);
//! ```

pub mod binary;
#[cfg(feature = "nchw")]
pub mod multiclass;
#[cfg(feature = "nchw")]
pub mod multilabel;

use crate::accumulate::{Target, Totals, V, Vector, pass, pass_storing, rewrite_each};
pub(crate) use crate::accumulate::{check_grad, write_each};
use crate::error::Error;
use crate::math;

/// Tversky's outer slope `γ·mean^(γ−1)` for the class mean of a multiclass
/// or multilabel loss, taken as 0 where the mean is exactly 0 (its minimum:
/// the mean is never negative) and γ < 1, where the power's slope is
/// infinite. That mean is identically 0 in multiclass mode with C = 1 (the
/// softmax is identically 1), so SPEC's rule for a loss that is identically
/// 0 gives 0 there; otherwise it needs every kept class predicted exactly
/// (PyTorch gives NaN or ∞ at such points).
#[cfg(feature = "nchw")]
pub(crate) fn mean_dpow(mean: f64, gamma: f32) -> f64 {
    if mean == 0.0 && gamma < 1.0 {
        0.0
    } else {
        binary::tversky_dpow(mean, gamma)
    }
}

/// The two passes of a loss whose gradient needs global sums of σ terms
/// (the region losses and MCC, binary mode): the statistics pass sums
/// `terms(p, q, y)` (`q = σ(−x)` from logits, `1 − p` from probabilities),
/// `coefficients` turns the totals into the scalars of the gradient, and the
/// gradient pass writes `slope(c, p, q, y)` (`∂loss/∂p`), times `p·q` from
/// logits (the chain rule through σ).
///
/// From logits the statistics pass keeps σ's code in `grad`
/// ([`math::sigmoid_pair_coded`]), and the gradient pass decodes it: the
/// same `p`, `q` bits with a division instead of a second exp, the
/// gradient pass's largest cost. `grad` has `pred`'s length (checked by the
/// caller).
#[inline(always)]
pub(crate) fn sigmoid_two_pass<T: Target, const K: usize, const LOGITS: bool, C>(
    pred: &[f32],
    target: &[T],
    ignore: Option<f32>,
    grad: &mut [f32],
    terms: impl Fn(V, V, V) -> [V; K],
    coefficients: impl FnOnce(&Totals<K>) -> C,
    slope: impl Fn(&C, V, V, V) -> V,
) -> Result<Totals<K>, Error> {
    if LOGITS {
        let t = pass_storing(
            pred,
            target,
            ignore,
            grad,
            #[inline(always)]
            |x, y| {
                let ((p, q), code) = math::sigmoid_pair_coded(x);
                (terms(p, q, y), code)
            },
        )?;
        let c = coefficients(&t);
        rewrite_each(
            target,
            ignore,
            grad,
            #[inline(always)]
            |code, y| {
                let (p, q) = math::sigmoid_pair_decode(code);
                slope(&c, p, q, y) * (p * q)
            },
        );
        Ok(t)
    } else {
        let one = <V as Vector>::ONE;
        let t = pass(
            pred,
            target,
            ignore,
            #[inline(always)]
            |x, y| terms(x, one - x, y),
        )?;
        let c = coefficients(&t);
        write_each(
            pred,
            target,
            ignore,
            grad,
            #[inline(always)]
            |x, y| slope(&c, x, one - x, y),
        );
        Ok(t)
    }
}
