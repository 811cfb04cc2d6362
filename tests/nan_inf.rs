//! NaN and infinity semantics (src/docs/numerics.md), for every binary loss,
//! `f32` and `u8` targets, one-shot and accumulated.
use segloss::{
    Bce, BceWithLogits, BinaryAccumulator, Focal, HardMcc, Mcc, Region, RegionAccumulator,
    SigmoidFocal, SoftBce, StatsConfig, Tversky, binary,
};

const N: usize = 19; // two full vectors and a masked tail

fn logits() -> Vec<f32> {
    (0..N).map(|i| i as f32 * 0.37 - 3.0).collect()
}
fn mask() -> Vec<u8> {
    (0..N).map(|i| (i % 3 == 0) as u8).collect()
}

/// Every binary loss of `(pred, target)` whose value must be NaN when an input is NaN.
fn all_losses<T: segloss::Target>(pl: &[f32], pp: &[f32], t: &[T]) -> Vec<(&'static str, f32)> {
    let r = Region::default();
    let rp = r.with_from_logits(false);
    let mut v = vec![
        ("dice", binary::dice(pl, t, &r).unwrap()),
        ("dice p", binary::dice(pp, t, &rp).unwrap()),
        ("jaccard", binary::jaccard(pl, t, &r).unwrap()),
        (
            "tversky g",
            binary::tversky(pl, t, &Tversky::new(0.3, 0.7, 0.5).unwrap()).unwrap(),
        ),
        ("bce", binary::bce(pp, t, &Bce::default()).unwrap()),
        (
            "bce_with_logits",
            binary::bce_with_logits(pl, t, &BceWithLogits::default()).unwrap(),
        ),
        (
            "bce_with_logits w=0",
            binary::bce_with_logits(pl, t, &BceWithLogits::default().with_pos_weight(0.0)).unwrap(),
        ),
        (
            "soft_bce",
            binary::soft_bce(pl, t, &SoftBce::default()).unwrap(),
        ),
        ("focal", binary::focal(pl, t, &Focal::default()).unwrap()),
        (
            "focal a=1",
            binary::focal(pl, t, &Focal::default().with_alpha(Some(1.0))).unwrap(),
        ),
        (
            "focal a=0",
            binary::focal(pl, t, &Focal::default().with_alpha(Some(0.0))).unwrap(),
        ),
        (
            "focal p",
            binary::focal(pp, t, &Focal::default().with_from_logits(false)).unwrap(),
        ),
        (
            "sigmoid_focal",
            binary::sigmoid_focal(pl, t, &SigmoidFocal::default()).unwrap(),
        ),
        (
            "sigmoid_focal a=1",
            binary::sigmoid_focal(pl, t, &SigmoidFocal::default().with_alpha(1.0)).unwrap(),
        ),
        ("mcc", binary::mcc(pp, t, &Mcc::default()).unwrap()),
    ];
    let mut acc = BinaryAccumulator::new(StatsConfig::default()).unwrap();
    acc.update(pl, t).unwrap();
    v.push(("acc dice", acc.dice(&r).unwrap()));
    let mut region = RegionAccumulator::new(r).unwrap();
    region.update(pl, t).unwrap();
    v.push(("region acc dice", region.dice(&r).unwrap()));
    v.push((
        "acc bce_with_logits",
        acc.bce_with_logits(&BceWithLogits::default()).unwrap(),
    ));
    v.push(("acc focal", acc.focal(&Focal::default()).unwrap()));
    v.push((
        "acc sigmoid_focal",
        acc.sigmoid_focal(&SigmoidFocal::default()).unwrap(),
    ));
    v.push((
        "acc mcc",
        acc.mcc(&Mcc::default().with_from_logits(true)).unwrap(),
    ));
    v
}

#[test]
fn nan_prediction_gives_nan_everywhere() {
    for at in [0, 9, N - 1] {
        for y in [0u8, 1] {
            let mut pl = logits();
            let mut pp: Vec<f32> = pl.iter().map(|x| 1.0 / (1.0 + (-x).exp())).collect();
            pl[at] = f32::NAN;
            pp[at] = f32::NAN;
            let mut m = mask();
            m[at] = y;
            let mf: Vec<f32> = m.iter().map(|&v| f32::from(v)).collect();
            for (name, v) in all_losses(&pl, &pp, &m)
                .into_iter()
                .chain(all_losses(&pl, &pp, &mf))
            {
                assert!(
                    v.is_nan(),
                    "{name}: NaN prediction at {at} (y = {y}) gave {v}"
                );
            }
        }
    }
}

#[test]
fn nan_prediction_with_empty_target_is_nan() {
    let mut pl = logits();
    pl[3] = f32::NAN;
    let zeros = [0u8; N];
    let v = binary::dice(&pl, &zeros, &Region::default()).unwrap();
    assert!(v.is_nan(), "empty-class rule must keep NaN, got {v}");
}

#[test]
fn nan_target_gives_nan() {
    let pl = logits();
    let pp: Vec<f32> = pl.iter().map(|x| 1.0 / (1.0 + (-x).exp())).collect();
    let mut t: Vec<f32> = mask().iter().map(|&v| f32::from(v)).collect();
    t[5] = f32::NAN;
    for (name, v) in all_losses(&pl, &pp, &t) {
        assert!(v.is_nan(), "{name}: NaN target gave {v}");
    }
}

#[test]
fn hard_counts_treat_nan_as_negative() {
    let p = [f32::NAN, 0.9];
    let c = binary::confusion(&p, &[1u8, 1], &HardMcc::default()).unwrap();
    assert_eq!((c.tp, c.fn_), (1, 1));
}

#[test]
fn infinite_logits_give_limits() {
    let inf = f32::INFINITY;
    let b = |x: f32, y: u8| binary::bce_with_logits(&[x], &[y], &BceWithLogits::default()).unwrap();
    assert_eq!(b(inf, 1), 0.0);
    assert_eq!(b(inf, 0), inf);
    assert_eq!(b(-inf, 0), 0.0);
    assert_eq!(b(-inf, 1), inf);
    let x = [inf, -inf, inf, -inf, inf, -inf, inf, -inf, inf];
    let hard: Vec<f32> = x.iter().map(|&v| if v > 0.0 { 1.0 } else { 0.0 }).collect();
    let y = [1u8, 1, 0, 0, 1, 0, 1, 1, 0];
    let r = Region::default();
    let rp = r.with_from_logits(false);
    assert_eq!(
        binary::dice(&x, &y, &r).unwrap(),
        binary::dice(&hard, &y, &rp).unwrap()
    );
    assert_eq!(
        binary::jaccard(&x, &y, &r).unwrap(),
        binary::jaccard(&hard, &y, &rp).unwrap()
    );
    let m = Mcc::default();
    assert_eq!(
        binary::mcc(&x, &y, &m.with_from_logits(true)).unwrap(),
        binary::mcc(&hard, &y, &m).unwrap()
    );
    assert!(
        binary::focal(&x, &y, &Focal::default())
            .unwrap()
            .is_infinite()
    );
}

#[test]
fn ignored_nan_contributes_nothing() {
    let mut pl = logits();
    let mut m = mask();
    let clean = binary::dice(&pl, &m, &Region::default().with_ignore_index(Some(255.0))).unwrap();
    pl.push(f32::NAN);
    m.push(255);
    let r = Region::default().with_ignore_index(Some(255.0));
    assert_eq!(binary::dice(&pl, &m, &r).unwrap(), clean);
    let f = Focal::default().with_ignore_index(Some(255.0));
    assert!(binary::focal(&pl, &m, &f).unwrap().is_finite());
    let s = SoftBce::default().with_ignore_index(Some(255.0));
    assert!(binary::soft_bce(&pl, &m, &s).unwrap().is_finite());
    let mut acc =
        BinaryAccumulator::new(StatsConfig::default().with_ignore_index(Some(255.0))).unwrap();
    acc.update(&pl, &m).unwrap();
    assert_eq!(acc.dice(&r).unwrap(), clean);
    let mut region = RegionAccumulator::new(r).unwrap();
    region.update(&pl, &m).unwrap();
    assert_eq!(region.dice(&r).unwrap(), clean);
}

/// Cross entropy over one class: the softmax is 1 and the gradient 0, but a
/// NaN logit must give a NaN gradient, as PyTorch's `softmax − one_hot`
/// (the one-class sum Σ_{k≠y} s_k is empty; fuzz seed `ce-one-class-nan-logit`).
#[test]
fn one_class_cross_entropy_gradient_keeps_nan() {
    use segloss::backward::multiclass as bw;
    use segloss::multiclass::{Classes, CrossEntropy, Shape};
    let shape = Shape::new(1, 1, 3).unwrap();
    let mut g = [7.0f32; 3];
    let l = bw::cross_entropy(
        &[0.5, f32::NAN, -3.0],
        &[0u8; 3],
        shape,
        &CrossEntropy::default(),
        &Classes::default(),
        &mut g,
        1.0,
    )
    .unwrap();
    assert!(l.is_nan());
    assert_eq!(g[0], 0.0);
    assert!(g[1].is_nan(), "{g:?}");
    assert_eq!(g[2], 0.0);
}
