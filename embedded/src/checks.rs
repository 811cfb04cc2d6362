//! The computations the firmware checks, written once and compiled twice: by
//! `build.rs` on the host (to produce the expected values) and into the
//! firmware (to produce the values under test). Every binary loss runs one
//! shot on the whole mask, with `u8` and with `f32` targets, and streaming:
//! a `BinaryAccumulator` fed one mask row at a time, and two half-mask
//! accumulators merged; and the region losses from a `RegionAccumulator`
//! the same two ways. [`ten`] is the first ten of them (each binary loss
//! once): the firmware of the flash goal (`--features ten`).

use segloss::{
    Bce, BceWithLogits, BinaryAccumulator, Error, Focal, HardMcc, Mcc, Reduction, Region,
    RegionAccumulator, SigmoidFocal, SoftBce, StatsConfig, Tversky, binary,
};

/// Number of results [`all`] produces.
pub const COUNT: usize = 35;

/// Number of results [`ten`] produces: the first [`TEN`] of [`all`].
pub const TEN: usize = 10;

/// Stands for an `Err`: a NaN with a payload no loss produces. The host
/// refuses to generate expected values that contain it.
pub const ERROR_BITS: u32 = 0x7fc0_dead;

/// Inputs of one check run: a `rows × cols` mask, row-major.
pub struct Inputs<'a> {
    pub rows: usize,
    pub cols: usize,
    /// Probabilities in [0, 1].
    pub prob: &'a [f32],
    /// Logits.
    pub logits: &'a [f32],
    /// Hard mask, 0 or 1.
    pub hard: &'a [u8],
    /// Soft targets in [0, 1].
    pub soft: &'a [f32],
}

struct Out<const N: usize> {
    items: [(&'static str, f32); N],
    len: usize,
}

impl<const N: usize> Out<N> {
    fn new() -> Self {
        Out {
            items: [("", 0.0); N],
            len: 0,
        }
    }

    fn push(&mut self, name: &'static str, r: Result<f32, Error>) {
        let v = r.unwrap_or(f32::from_bits(ERROR_BITS));
        if self.len < N {
            self.items[self.len] = (name, v);
        }
        self.len += 1;
    }

    /// The results; panics (on the host) if there are not exactly `N`.
    fn done(self) -> [(&'static str, f32); N] {
        assert_eq!(self.len, N, "checks: a result count is out of date");
        self.items
    }
}

/// The configuration of every check.
#[derive(Clone, Copy)]
pub struct Configs {
    region: Region,
    region_p: Region,
    tversky: Result<Tversky, Error>,
    focal: Focal,
    focal_p: Focal,
    sfocal: SigmoidFocal,
    bce: Bce,
    bce_l: BceWithLogits,
    soft_bce: SoftBce,
    mcc: Mcc,
    hard_mcc: HardMcc,
}

impl Configs {
    pub fn new() -> Self {
        let region = Region::default(); // from logits
        Configs {
            region,
            region_p: Region::default().with_from_logits(false),
            tversky: Tversky::new(0.3, 0.7, 1.5).map(|t| t.with_region(region)),
            focal: Focal::default(),
            focal_p: Focal::default()
                .with_from_logits(false)
                .with_alpha(Some(0.25))
                .with_gamma(1.5),
            sfocal: SigmoidFocal::default(),
            bce: Bce::default(),
            bce_l: BceWithLogits::default().with_pos_weight(2.0),
            soft_bce: SoftBce::default().with_smooth_factor(Some(0.1)),
            mcc: Mcc::default().with_from_logits(true),
            hard_mcc: HardMcc::default().with_from_logits(true),
        }
    }

    /// The ten binary losses read from one accumulator (from logits: its
    /// `bce`, on probabilities, is then an error value; soft BCE with the
    /// accumulator's ignore index, none, as [`all`] reads it); the
    /// flash-by-use firmware `--features use-stream-ten`.
    pub fn read_stream(
        &self,
        acc: Result<BinaryAccumulator, Error>,
    ) -> [(&'static str, Result<f32, Error>); TEN] {
        let c = self;
        let a = |f: &dyn Fn(&BinaryAccumulator) -> Result<f32, Error>| {
            acc.as_ref().map_err(|e| *e).and_then(f)
        };
        [
            ("stream/dice", a(&|a| a.dice(&c.region))),
            ("stream/jaccard", a(&|a| a.jaccard(&c.region))),
            (
                "stream/tversky",
                a(&|a| c.tversky.and_then(|t| a.tversky(&t))),
            ),
            ("stream/focal", a(&|a| a.focal(&c.focal))),
            ("stream/sigmoid_focal", a(&|a| a.sigmoid_focal(&c.sfocal))),
            ("stream/bce", a(&|a| a.bce(&c.bce))),
            ("stream/bce_logits", a(&|a| a.bce_with_logits(&c.bce_l))),
            (
                "stream/soft_bce",
                a(&|a| a.soft_bce(&c.soft_bce.with_ignore_index(None))),
            ),
            ("stream/mcc", a(&|a| a.mcc(&c.mcc))),
            ("stream/hard_mcc", a(&|a| a.hard_mcc(&c.hard_mcc))),
        ]
    }
}

/// Each binary loss once, one shot on the `u8` mask: from logits, and `bce`
/// from probabilities.
fn one_shot_u8<const N: usize>(x: &Inputs<'_>, c: &Configs, o: &mut Out<N>) {
    let (l, p, h) = (x.logits, x.prob, x.hard);
    o.push("dice/logits/u8", binary::dice(l, h, &c.region));
    o.push("jaccard/logits/u8", binary::jaccard(l, h, &c.region));
    o.push(
        "tversky/logits/u8",
        c.tversky.and_then(|t| binary::tversky(l, h, &t)),
    );
    o.push("focal/logits/u8", binary::focal(l, h, &c.focal));
    o.push("sigmoid_focal/u8", binary::sigmoid_focal(l, h, &c.sfocal));
    o.push("bce/prob/u8", binary::bce(p, h, &c.bce));
    o.push("bce_logits/u8", binary::bce_with_logits(l, h, &c.bce_l));
    o.push("soft_bce/u8", binary::soft_bce(l, h, &c.soft_bce));
    o.push("mcc/logits/u8", binary::mcc(l, h, &c.mcc));
    o.push("hard_mcc/logits/u8", binary::hard_mcc(l, h, &c.hard_mcc));
}

/// The first [`TEN`] results of [`all`]: every binary loss once.
pub fn ten(x: &Inputs<'_>, c: &Configs) -> [(&'static str, f32); TEN] {
    let mut o = Out::new();
    one_shot_u8(x, c, &mut o);
    o.done()
}

/// Calls `update` on rows `rows` of the mask, one row at a time.
fn feed_rows<T: segloss::Target>(
    mut update: impl FnMut(&[f32], &[T]) -> Result<(), Error>,
    pred: &[f32],
    target: &[T],
    cols: usize,
    rows: core::ops::Range<usize>,
) -> Result<(), Error> {
    for r in rows {
        let row = r * cols..(r + 1) * cols;
        update(&pred[row.clone()], &target[row])?;
    }
    Ok(())
}

/// Feeds rows `rows` of the mask into a new accumulator, one row per update.
fn stream<T: segloss::Target>(
    cfg: StatsConfig,
    pred: &[f32],
    target: &[T],
    cols: usize,
    rows: core::ops::Range<usize>,
) -> Result<BinaryAccumulator, Error> {
    let mut acc = BinaryAccumulator::new(cfg)?;
    feed_rows(|p, t| acc.update(p, t), pred, target, cols, rows)?;
    Ok(acc)
}

/// [`stream`] for the region sums alone.
fn stream_region<T: segloss::Target>(
    cfg: Region,
    pred: &[f32],
    target: &[T],
    cols: usize,
    rows: core::ops::Range<usize>,
) -> Result<RegionAccumulator, Error> {
    let mut acc = RegionAccumulator::new(cfg)?;
    feed_rows(|p, t| acc.update(p, t), pred, target, cols, rows)?;
    Ok(acc)
}

/// Every result, in a fixed order, named. Panics (on the host) only if the
/// list and [`COUNT`] disagree.
pub fn all(x: &Inputs<'_>) -> [(&'static str, f32); COUNT] {
    let mut o = Out::new();
    let (l, p, h, s) = (x.logits, x.prob, x.hard, x.soft);
    let c = Configs::new();
    let Configs {
        region,
        region_p,
        tversky,
        focal,
        focal_p,
        sfocal,
        bce,
        bce_l,
        soft_bce,
        mcc,
        hard_mcc,
    } = c;

    one_shot_u8(x, &c, &mut o);
    // One shot, f32 soft targets, from probabilities where the loss allows.
    o.push("dice/prob/f32", binary::dice(p, s, &region_p));
    o.push("jaccard/prob/f32", binary::jaccard(p, s, &region_p));
    o.push("focal/prob/f32", binary::focal(p, s, &focal_p));
    o.push("bce/prob/f32", binary::bce(p, s, &bce));
    o.push("bce_logits/f32", binary::bce_with_logits(l, s, &bce_l));
    o.push("soft_bce/f32", binary::soft_bce(l, s, &soft_bce));
    o.push("mcc/prob/f32", binary::mcc(p, s, &Mcc::default()));
    o.push(
        "sum/bce_logits/f32",
        binary::bce_with_logits(l, s, &bce_l.with_reduction(Reduction::Sum)),
    );

    // Streaming: one mask row per update.
    let cfg = StatsConfig::default();
    match stream(cfg, l, h, x.cols, 0..x.rows) {
        Ok(acc) => {
            o.push("stream/dice", acc.dice(&region));
            o.push("stream/jaccard", acc.jaccard(&region));
            o.push("stream/tversky", tversky.and_then(|t| acc.tversky(&t)));
            o.push("stream/focal", acc.focal(&focal));
            o.push("stream/sigmoid_focal", acc.sigmoid_focal(&sfocal));
            o.push("stream/bce_logits", acc.bce_with_logits(&bce_l));
            o.push(
                "stream/soft_bce",
                acc.soft_bce(&soft_bce.with_ignore_index(None)),
            );
            o.push("stream/mcc", acc.mcc(&mcc));
            o.push("stream/hard_mcc", acc.hard_mcc(&hard_mcc));
        }
        Err(e) => {
            for _ in 0..9 {
                o.push("stream/error", Err(e));
            }
        }
    }
    // Streaming from probabilities with soft targets: BCE.
    let cfg_p = StatsConfig::default().with_from_logits(false);
    o.push(
        "stream/bce/prob/f32",
        stream(cfg_p, p, s, x.cols, 0..x.rows).and_then(|a| a.bce(&bce)),
    );
    // Two halves accumulated apart, then merged.
    let half = x.rows / 2;
    let merged = stream(cfg, l, h, x.cols, 0..half).and_then(|mut a| {
        a.merge(&stream(cfg, l, h, x.cols, half..x.rows)?)?;
        Ok(a)
    });
    o.push("merge/dice", merged.and_then(|a| a.dice(&region)));
    o.push("merge/focal", merged.and_then(|a| a.focal(&focal)));
    o.push("merge/hard_mcc", merged.and_then(|a| a.hard_mcc(&hard_mcc)));

    // The region sums alone: one row per update, and two halves merged.
    let rs = stream_region(region, l, h, x.cols, 0..x.rows);
    o.push("region_stream/dice", rs.and_then(|a| a.dice(&region)));
    o.push(
        "region_stream/tversky",
        tversky.and_then(|t| rs.and_then(|a| a.tversky(&t))),
    );
    let rs_p = stream_region(region_p, p, s, x.cols, 0..x.rows);
    o.push(
        "region_stream/jaccard/prob/f32",
        rs_p.and_then(|a| a.jaccard(&region_p)),
    );
    let rm = stream_region(region, l, h, x.cols, 0..half).and_then(|mut a| {
        a.merge(&stream_region(region, l, h, x.cols, half..x.rows)?)?;
        Ok(a)
    });
    o.push("region_merge/dice", rm.and_then(|a| a.dice(&region)));

    o.done()
}
