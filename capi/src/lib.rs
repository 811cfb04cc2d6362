//! C ABI for segloss's binary losses and its streaming accumulators.
//!
//! The header is `include/segloss.h`; it documents every function. This crate
//! is `no_std` and allocation-free, like segloss: it builds as a static
//! library for Cortex-M firmware (`thumbv7em-none-eabihf`) as well as for
//! hosts. All `unsafe` of the project lives here, at the C boundary: turning
//! C pointers and lengths into slices and references. Every such block says
//! why it is sound; every pointer is checked for null first.
//!
//! Conventions: every function returns an `int32_t` status (`SEGLOSS_OK` = 0,
//! negative on error) and writes its result through an out-pointer, which is
//! left untouched on error. A null configuration pointer means the defaults
//! (the same as segloss's `Default`). In configuration structs, flags are
//! `uint8_t` (0 = false, anything else = true) and an optional `float` is NaN
//! for "none".
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![allow(non_camel_case_types)]

use core::mem::{align_of, size_of};
use core::ptr;

use segloss::{
    Bce, BceWithLogits, BinaryAccumulator, Error, Focal, HardMcc, Mcc, Reduction, Region,
    RegionAccumulator, SigmoidFocal, SoftBce, StatsConfig, Tversky, binary,
};

/// Success.
pub const SEGLOSS_OK: i32 = 0;
/// A required pointer is null.
pub const SEGLOSS_ERR_NULL: i32 = -1;
/// Lengths differ, or a length is too large for the address space.
pub const SEGLOSS_ERR_LENGTH: i32 = -2;
/// No element to compute a loss over.
pub const SEGLOSS_ERR_EMPTY: i32 = -3;
/// A parameter is NaN or outside its domain.
pub const SEGLOSS_ERR_PARAM: i32 = -4;
/// A `uint8_t` mask holds a value other than 0, 1 or the ignore value.
pub const SEGLOSS_ERR_MASK: i32 = -5;
/// The loss configuration differs from the accumulator's statistics configuration.
pub const SEGLOSS_ERR_CONFIG_MISMATCH: i32 = -6;
/// The accumulator was not initialised with its `init` function.
pub const SEGLOSS_ERR_UNINIT: i32 = -7;
/// An error this version of the C API does not know.
pub const SEGLOSS_ERR_OTHER: i32 = -99;

/// `segloss_reduction`: mean.
pub const SEGLOSS_MEAN: u32 = 0;
/// `segloss_reduction`: sum.
pub const SEGLOSS_SUM: u32 = 1;

fn status(e: Error) -> i32 {
    match e {
        Error::LengthMismatch { .. } => SEGLOSS_ERR_LENGTH,
        Error::Empty => SEGLOSS_ERR_EMPTY,
        Error::InvalidParameter { .. } => SEGLOSS_ERR_PARAM,
        Error::InvalidMask { .. } => SEGLOSS_ERR_MASK,
        Error::ConfigMismatch { .. } => SEGLOSS_ERR_CONFIG_MISMATCH,
        _ => SEGLOSS_ERR_OTHER,
    }
}

fn flag(b: u8) -> bool {
    b != 0
}

fn opt(v: f32) -> Option<f32> {
    if v.is_nan() { None } else { Some(v) }
}

fn unopt(v: Option<f32>) -> f32 {
    v.unwrap_or(f32::NAN)
}

fn reduction(r: u32) -> Result<Reduction, Error> {
    match r {
        SEGLOSS_MEAN => Ok(Reduction::Mean),
        SEGLOSS_SUM => Ok(Reduction::Sum),
        _ => Err(Error::InvalidParameter {
            name: "reduction",
            value: r as f32,
        }),
    }
}

fn unreduction(r: Reduction) -> u32 {
    match r {
        Reduction::Sum => SEGLOSS_SUM,
        _ => SEGLOSS_MEAN,
    }
}

/// Converts a C configuration struct to segloss's, and back (for the defaults).
trait CConfig: Copy {
    type Rust: Default;
    fn to_rust(&self) -> Result<Self::Rust, Error>;
    fn from_rust(r: &Self::Rust) -> Self;
}

/// `segloss_region_config`: Dice and Jaccard.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct segloss_region_config {
    pub from_logits: u8,
    pub log_loss: u8,
    pub smooth: f32,
    pub eps: f32,
    /// NaN: none.
    pub ignore_index: f32,
}

impl CConfig for segloss_region_config {
    type Rust = Region;
    fn to_rust(&self) -> Result<Region, Error> {
        Ok(Region {
            from_logits: flag(self.from_logits),
            smooth: self.smooth,
            eps: self.eps,
            log_loss: flag(self.log_loss),
            ignore_index: opt(self.ignore_index),
        })
    }
    fn from_rust(r: &Region) -> Self {
        segloss_region_config {
            from_logits: r.from_logits.into(),
            log_loss: r.log_loss.into(),
            smooth: r.smooth,
            eps: r.eps,
            ignore_index: unopt(r.ignore_index),
        }
    }
}

/// `segloss_tversky_config`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct segloss_tversky_config {
    pub region: segloss_region_config,
    pub alpha: f32,
    pub beta: f32,
    pub gamma: f32,
}

impl CConfig for segloss_tversky_config {
    type Rust = Tversky;
    fn to_rust(&self) -> Result<Tversky, Error> {
        Ok(Tversky::new(self.alpha, self.beta, self.gamma)?.with_region(self.region.to_rust()?))
    }
    fn from_rust(r: &Tversky) -> Self {
        segloss_tversky_config {
            region: segloss_region_config::from_rust(&r.region),
            alpha: r.alpha,
            beta: r.beta,
            gamma: r.gamma,
        }
    }
}

/// `segloss_focal_config`: smp's `FocalLoss`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct segloss_focal_config {
    pub from_logits: u8,
    pub normalized: u8,
    pub gamma: f32,
    /// NaN: none.
    pub alpha: f32,
    /// NaN: none.
    pub reduced_threshold: f32,
    pub eps: f32,
    /// NaN: none.
    pub ignore_index: f32,
    pub reduction: u32,
}

impl CConfig for segloss_focal_config {
    type Rust = Focal;
    fn to_rust(&self) -> Result<Focal, Error> {
        Ok(Focal {
            from_logits: flag(self.from_logits),
            gamma: self.gamma,
            alpha: opt(self.alpha),
            normalized: flag(self.normalized),
            reduced_threshold: opt(self.reduced_threshold),
            eps: self.eps,
            ignore_index: opt(self.ignore_index),
            reduction: reduction(self.reduction)?,
        })
    }
    fn from_rust(r: &Focal) -> Self {
        segloss_focal_config {
            from_logits: r.from_logits.into(),
            normalized: r.normalized.into(),
            gamma: r.gamma,
            alpha: unopt(r.alpha),
            reduced_threshold: unopt(r.reduced_threshold),
            eps: r.eps,
            ignore_index: unopt(r.ignore_index),
            reduction: unreduction(r.reduction),
        }
    }
}

/// `segloss_sigmoid_focal_config`: torchvision's `sigmoid_focal_loss`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct segloss_sigmoid_focal_config {
    pub alpha: f32,
    pub gamma: f32,
    pub reduction: u32,
}

impl CConfig for segloss_sigmoid_focal_config {
    type Rust = SigmoidFocal;
    fn to_rust(&self) -> Result<SigmoidFocal, Error> {
        Ok(SigmoidFocal::default()
            .with_alpha(self.alpha)
            .with_gamma(self.gamma)
            .with_reduction(reduction(self.reduction)?))
    }
    fn from_rust(r: &SigmoidFocal) -> Self {
        segloss_sigmoid_focal_config {
            alpha: r.alpha,
            gamma: r.gamma,
            reduction: unreduction(r.reduction),
        }
    }
}

/// `segloss_bce_config`: BCE on probabilities.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct segloss_bce_config {
    pub reduction: u32,
}

impl CConfig for segloss_bce_config {
    type Rust = Bce;
    fn to_rust(&self) -> Result<Bce, Error> {
        Ok(Bce {
            reduction: reduction(self.reduction)?,
        })
    }
    fn from_rust(r: &Bce) -> Self {
        segloss_bce_config {
            reduction: unreduction(r.reduction),
        }
    }
}

/// `segloss_bce_logits_config`: BCE with logits.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct segloss_bce_logits_config {
    pub pos_weight: f32,
    pub reduction: u32,
}

impl CConfig for segloss_bce_logits_config {
    type Rust = BceWithLogits;
    fn to_rust(&self) -> Result<BceWithLogits, Error> {
        Ok(BceWithLogits::default()
            .with_pos_weight(self.pos_weight)
            .with_reduction(reduction(self.reduction)?))
    }
    fn from_rust(r: &BceWithLogits) -> Self {
        segloss_bce_logits_config {
            pos_weight: r.pos_weight,
            reduction: unreduction(r.reduction),
        }
    }
}

/// `segloss_soft_bce_config`: smp's `SoftBCEWithLogitsLoss`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct segloss_soft_bce_config {
    /// NaN: none.
    pub smooth_factor: f32,
    /// NaN: none.
    pub ignore_index: f32,
    pub pos_weight: f32,
    pub reduction: u32,
}

impl CConfig for segloss_soft_bce_config {
    type Rust = SoftBce;
    fn to_rust(&self) -> Result<SoftBce, Error> {
        Ok(SoftBce::default()
            .with_smooth_factor(opt(self.smooth_factor))
            .with_ignore_index(opt(self.ignore_index))
            .with_pos_weight(self.pos_weight)
            .with_reduction(reduction(self.reduction)?))
    }
    fn from_rust(r: &SoftBce) -> Self {
        segloss_soft_bce_config {
            smooth_factor: unopt(r.smooth_factor),
            ignore_index: unopt(r.ignore_index),
            pos_weight: r.pos_weight,
            reduction: unreduction(r.reduction),
        }
    }
}

/// `segloss_mcc_config`: smp's soft `MCCLoss`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct segloss_mcc_config {
    pub from_logits: u8,
    pub eps: f32,
}

impl CConfig for segloss_mcc_config {
    type Rust = Mcc;
    fn to_rust(&self) -> Result<Mcc, Error> {
        Ok(Mcc {
            from_logits: flag(self.from_logits),
            eps: self.eps,
        })
    }
    fn from_rust(r: &Mcc) -> Self {
        segloss_mcc_config {
            from_logits: r.from_logits.into(),
            eps: r.eps,
        }
    }
}

/// `segloss_hard_mcc_config`: thresholded MCC.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct segloss_hard_mcc_config {
    pub from_logits: u8,
    pub threshold: f64,
    pub eps: f32,
}

impl CConfig for segloss_hard_mcc_config {
    type Rust = HardMcc;
    fn to_rust(&self) -> Result<HardMcc, Error> {
        Ok(HardMcc {
            from_logits: flag(self.from_logits),
            threshold: self.threshold,
            eps: self.eps,
        })
    }
    fn from_rust(r: &HardMcc) -> Self {
        segloss_hard_mcc_config {
            from_logits: r.from_logits.into(),
            threshold: r.threshold,
            eps: r.eps,
        }
    }
}

/// `segloss_stats_config`: what a streaming accumulator computes.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct segloss_stats_config {
    pub from_logits: u8,
    /// NaN: none.
    pub ignore_index: f32,
    pub threshold: f64,
    pub gamma: f32,
    /// NaN: none.
    pub reduced_threshold: f32,
    pub eps: f32,
}

impl CConfig for segloss_stats_config {
    type Rust = StatsConfig;
    fn to_rust(&self) -> Result<StatsConfig, Error> {
        Ok(StatsConfig {
            from_logits: flag(self.from_logits),
            ignore_index: opt(self.ignore_index),
            threshold: self.threshold,
            gamma: self.gamma,
            reduced_threshold: opt(self.reduced_threshold),
            eps: self.eps,
        })
    }
    fn from_rust(r: &StatsConfig) -> Self {
        segloss_stats_config {
            from_logits: r.from_logits.into(),
            ignore_index: unopt(r.ignore_index),
            threshold: r.threshold,
            gamma: r.gamma,
            reduced_threshold: unopt(r.reduced_threshold),
            eps: r.eps,
        }
    }
}

/// Reads a configuration: null means the defaults.
///
/// # Safety
/// `cfg` is null or points to a readable, initialised `C`.
unsafe fn config<C: CConfig>(cfg: *const C) -> Result<C::Rust, Error> {
    // SAFETY: the caller guarantees `cfg` is null or valid for reads; `as_ref`
    // handles null. `C` is plain old data (integers and floats): every bit
    // pattern is a valid value.
    match unsafe { cfg.as_ref() } {
        None => Ok(C::Rust::default()),
        Some(c) => c.to_rust(),
    }
}

/// A slice from a C pointer and length; `Err` on null or on a length whose
/// byte size does not fit in `isize`. A zero length accepts any pointer.
///
/// # Safety
/// Unless null or `len == 0`, `p` points to `len` initialised `T` that stay
/// valid and unmodified for `'a`.
unsafe fn slice<'a, T>(p: *const T, len: usize) -> Result<&'a [T], i32> {
    if p.is_null() {
        return Err(SEGLOSS_ERR_NULL);
    }
    if len > isize::MAX as usize / size_of::<T>().max(1) {
        return Err(SEGLOSS_ERR_LENGTH);
    }
    if len == 0 {
        return Ok(&[]);
    }
    if !(p as usize).is_multiple_of(align_of::<T>()) {
        return Err(SEGLOSS_ERR_NULL);
    }
    // SAFETY: `p` is non-null and aligned (checked above), the byte size fits
    // in `isize` (checked above), and the caller guarantees `len` initialised
    // elements that are not mutated while the slice lives.
    Ok(unsafe { core::slice::from_raw_parts(p, len) })
}

/// Writes a result; `Err` if `out` is null.
///
/// # Safety
/// `out` is null or valid for a write of one `f32`.
unsafe fn write_out(out: *mut f32, v: Result<f32, Error>) -> i32 {
    if out.is_null() {
        return SEGLOSS_ERR_NULL;
    }
    match v {
        Ok(v) => {
            // SAFETY: `out` is non-null and the caller guarantees it is valid
            // for writes of one `f32`.
            unsafe { out.write_unaligned(v) };
            SEGLOSS_OK
        }
        Err(e) => status(e),
    }
}

/// A one-shot loss of segloss with its Rust configuration.
type OneShot<T, R> = fn(&[f32], &[T], &R) -> Result<f32, Error>;

/// Runs a one-shot loss on C arrays.
///
/// # Safety
/// As [`slice`] for `pred`/`target` with `len`, [`config`] for `cfg`, and
/// [`write_out`] for `out`.
unsafe fn one_shot<T: segloss::Target, C: CConfig>(
    pred: *const f32,
    target: *const T,
    len: usize,
    cfg: *const C,
    out: *mut f32,
    f: OneShot<T, C::Rust>,
) -> i32 {
    if out.is_null() {
        return SEGLOSS_ERR_NULL;
    }
    // SAFETY: forwarded from this function's contract.
    let (pred, target) = match unsafe { (slice(pred, len), slice(target, len)) } {
        (Ok(p), Ok(t)) => (p, t),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    // SAFETY: forwarded from this function's contract.
    let v = unsafe { config(cfg) }.and_then(|c| f(pred, target, &c));
    // SAFETY: forwarded from this function's contract.
    unsafe { write_out(out, v) }
}

/// Defines `segloss_<name>` (f32 targets), `segloss_<name>_u8` (u8 masks) and
/// `segloss_<name>_default`.
macro_rules! one_shot_fns {
    ($($name:ident, $name_u8:ident, $default:ident, $cfg:ty, $f:path;)*) => {$(
        #[doc = concat!("`", stringify!($name), "` with `float` targets; see `include/segloss.h`.")]
        ///
        /// # Safety
        /// `pred` and `target` point to `len` readable elements (or are any
        /// non-null pointer when `len` is 0), `cfg` is null or readable, `out`
        /// is writable.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(
            pred: *const f32,
            target: *const f32,
            len: usize,
            cfg: *const $cfg,
            out: *mut f32,
        ) -> i32 {
            // SAFETY: this function's contract is `one_shot`'s.
            unsafe { one_shot(pred, target, len, cfg, out, $f) }
        }

        #[doc = concat!("`", stringify!($name), "` with a `uint8_t` 0/1 mask; see `include/segloss.h`.")]
        ///
        /// # Safety
        /// As the `float` version.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name_u8(
            pred: *const f32,
            target: *const u8,
            len: usize,
            cfg: *const $cfg,
            out: *mut f32,
        ) -> i32 {
            // SAFETY: this function's contract is `one_shot`'s.
            unsafe { one_shot(pred, target, len, cfg, out, $f) }
        }

        /// The default configuration (segloss's `Default`).
        #[unsafe(no_mangle)]
        pub extern "C" fn $default() -> $cfg {
            <$cfg>::from_rust(&Default::default())
        }
    )*};
}

one_shot_fns! {
    segloss_dice, segloss_dice_u8, segloss_dice_default, segloss_region_config, binary::dice;
    segloss_jaccard, segloss_jaccard_u8, segloss_jaccard_default, segloss_region_config, binary::jaccard;
    segloss_tversky, segloss_tversky_u8, segloss_tversky_default, segloss_tversky_config, binary::tversky;
    segloss_focal, segloss_focal_u8, segloss_focal_default, segloss_focal_config, binary::focal;
    segloss_sigmoid_focal, segloss_sigmoid_focal_u8, segloss_sigmoid_focal_default, segloss_sigmoid_focal_config, binary::sigmoid_focal;
    segloss_bce, segloss_bce_u8, segloss_bce_default, segloss_bce_config, binary::bce;
    segloss_bce_with_logits, segloss_bce_with_logits_u8, segloss_bce_with_logits_default, segloss_bce_logits_config, binary::bce_with_logits;
    segloss_soft_bce, segloss_soft_bce_u8, segloss_soft_bce_default, segloss_soft_bce_config, binary::soft_bce;
    segloss_mcc, segloss_mcc_u8, segloss_mcc_default, segloss_mcc_config, binary::mcc;
    segloss_hard_mcc, segloss_hard_mcc_u8, segloss_hard_mcc_default, segloss_hard_mcc_config, binary::hard_mcc;
}

/// The default streaming configuration (segloss's `StatsConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn segloss_stats_default() -> segloss_stats_config {
    segloss_stats_config::from_rust(&StatsConfig::default())
}

/// Bytes of caller-provided storage for one accumulator (`SEGLOSS_ACCUMULATOR_BYTES`).
pub const SEGLOSS_ACCUMULATOR_BYTES: usize = 512;
/// Bytes of caller-provided storage for one region accumulator
/// (`SEGLOSS_REGION_ACCUMULATOR_BYTES`).
pub const SEGLOSS_REGION_ACCUMULATOR_BYTES: usize = 64;

/// `segloss_accumulator`: storage the caller owns (stack, static, …); its
/// content is private. Initialise it with `segloss_accumulator_init`.
#[repr(C, align(8))]
pub struct segloss_accumulator {
    opaque: [u64; SEGLOSS_ACCUMULATOR_BYTES / 8],
}

/// `segloss_region_accumulator`: as `segloss_accumulator`, for a
/// [`RegionAccumulator`]. Initialise it with `segloss_region_accumulator_init`.
#[repr(C, align(8))]
pub struct segloss_region_accumulator {
    opaque: [u64; SEGLOSS_REGION_ACCUMULATOR_BYTES / 8],
}

/// What lives in an accumulator's storage: a tag, then the Rust value.
#[repr(C)]
struct Slot<A> {
    magic: u64,
    acc: A,
}

/// A C storage type and the Rust accumulator it holds.
trait Storage {
    /// The accumulator (plain data: `Copy`).
    type Acc: Stream;
    /// The tag `init` writes: another per storage type, so one kind's
    /// storage is never read as the other's.
    const MAGIC: u64;
}

/// What the C functions do with either accumulator.
trait Stream: Copy {
    fn update<T: segloss::Target>(&mut self, pred: &[f32], target: &[T]) -> Result<(), Error>;
    fn merge(&mut self, other: &Self) -> Result<(), Error>;
}

impl Stream for BinaryAccumulator {
    fn update<T: segloss::Target>(&mut self, pred: &[f32], target: &[T]) -> Result<(), Error> {
        BinaryAccumulator::update(self, pred, target)
    }
    fn merge(&mut self, other: &Self) -> Result<(), Error> {
        BinaryAccumulator::merge(self, other)
    }
}

impl Stream for RegionAccumulator {
    fn update<T: segloss::Target>(&mut self, pred: &[f32], target: &[T]) -> Result<(), Error> {
        RegionAccumulator::update(self, pred, target)
    }
    fn merge(&mut self, other: &Self) -> Result<(), Error> {
        RegionAccumulator::merge(self, other)
    }
}

impl Storage for segloss_accumulator {
    type Acc = BinaryAccumulator;
    const MAGIC: u64 = 0x5345_474c_4f53_5301; // "SEGLOSS" v1
}

impl Storage for segloss_region_accumulator {
    type Acc = RegionAccumulator;
    const MAGIC: u64 = 0x5345_474c_4f53_5302; // "SEGLOSS", region v1
}

const _: () = {
    assert!(size_of::<Slot<BinaryAccumulator>>() <= size_of::<segloss_accumulator>());
    assert!(align_of::<Slot<BinaryAccumulator>>() <= align_of::<segloss_accumulator>());
    assert!(size_of::<Slot<RegionAccumulator>>() <= size_of::<segloss_region_accumulator>());
    assert!(align_of::<Slot<RegionAccumulator>>() <= align_of::<segloss_region_accumulator>());
};

/// The initialised accumulator behind `p`.
///
/// # Safety
/// `p` is null or points to an `S` valid for reads and writes, not aliased
/// for `'a`, whose tag is `S::MAGIC` only if it was written by [`init`] (and
/// not corrupted since).
unsafe fn accumulator<'a, S: Storage>(p: *mut S) -> Result<&'a mut S::Acc, i32> {
    if p.is_null() {
        return Err(SEGLOSS_ERR_NULL);
    }
    let slot = p.cast::<Slot<S::Acc>>();
    // SAFETY: `p` is non-null, aligned for the slot (checked at compile
    // time: each storage type is at least as aligned and large), and
    // readable; a `u64` accepts any bit pattern.
    let magic = unsafe { ptr::addr_of!((*slot).magic).read() };
    if magic != S::MAGIC {
        return Err(SEGLOSS_ERR_UNINIT);
    }
    // SAFETY: the tag says `init` wrote a valid `S::Acc` here; the caller
    // guarantees exclusive access.
    Ok(unsafe { &mut (*slot).acc })
}

/// Writes the accumulator `made` (or returns its error) into `p`.
///
/// # Safety
/// `p` is null or valid for writes of an `S`.
unsafe fn init<S: Storage>(p: *mut S, made: Result<S::Acc, Error>) -> i32 {
    if p.is_null() {
        return SEGLOSS_ERR_NULL;
    }
    match made {
        Ok(acc) => {
            // SAFETY: `p` is non-null, valid for writes (contract) and
            // aligned and large enough for the slot (compile-time checks).
            unsafe {
                p.cast::<Slot<S::Acc>>().write(Slot {
                    magic: S::MAGIC,
                    acc,
                })
            };
            SEGLOSS_OK
        }
        Err(e) => status(e),
    }
}

/// Initialises `acc` for streaming with `cfg` (null: defaults).
///
/// # Safety
/// `acc` is null or valid for writes of a `segloss_accumulator`; `cfg` is
/// null or readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn segloss_accumulator_init(
    acc: *mut segloss_accumulator,
    cfg: *const segloss_stats_config,
) -> i32 {
    if acc.is_null() {
        return SEGLOSS_ERR_NULL;
    }
    // SAFETY: `cfg` is null or readable; `acc` is valid for writes (this
    // function's contract).
    unsafe { init(acc, config(cfg).and_then(BinaryAccumulator::new)) }
}

/// Initialises `acc` for streaming the region sums with `cfg`'s
/// `from_logits` and `ignore_index` (null: defaults).
///
/// # Safety
/// `acc` is null or valid for writes of a `segloss_region_accumulator`;
/// `cfg` is null or readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn segloss_region_accumulator_init(
    acc: *mut segloss_region_accumulator,
    cfg: *const segloss_region_config,
) -> i32 {
    if acc.is_null() {
        return SEGLOSS_ERR_NULL;
    }
    // SAFETY: as `segloss_accumulator_init`.
    unsafe { init(acc, config(cfg).and_then(RegionAccumulator::new)) }
}

/// Adds `len` elements in one pass.
///
/// # Safety
/// `acc` as in [`accumulator`]; `pred`/`target` as in [`slice`].
unsafe fn update<S: Storage, T: segloss::Target>(
    acc: *mut S,
    pred: *const f32,
    target: *const T,
    len: usize,
) -> i32 {
    // SAFETY: forwarded from this function's contract.
    let acc = match unsafe { accumulator(acc) } {
        Ok(a) => a,
        Err(e) => return e,
    };
    // SAFETY: forwarded from this function's contract.
    let (pred, target) = match unsafe { (slice(pred, len), slice(target, len)) } {
        (Ok(p), Ok(t)) => (p, t),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    match acc.update(pred, target) {
        Ok(()) => SEGLOSS_OK,
        Err(e) => status(e),
    }
}

/// Adds `other`'s sums into `acc`.
///
/// # Safety
/// Both are null or initialised accumulators; they may be the same object.
unsafe fn merge<S: Storage>(acc: *mut S, other: *const S) -> i32 {
    if other.is_null() {
        return SEGLOSS_ERR_NULL;
    }
    // SAFETY: `other` is non-null and, by contract, initialised if its tag
    // says so: read a copy first (the accumulators are `Copy`), so `acc` and
    // `other` may alias.
    let theirs = match unsafe { accumulator(other.cast_mut()) } {
        Ok(o) => *o,
        Err(e) => return e,
    };
    // SAFETY: contract; no other reference into `*acc` is alive (the copy above ended it).
    match unsafe { accumulator(acc) } {
        Ok(a) => match a.merge(&theirs) {
            Ok(()) => SEGLOSS_OK,
            Err(e) => status(e),
        },
        Err(e) => e,
    }
}

/// Defines the `update`, `update_u8` and `merge` functions of a storage type.
macro_rules! streams {
    ($($storage:ty: $update:ident, $update_u8:ident, $merge:ident;)*) => {$(
        /// Adds a chunk with `float` targets.
        ///
        /// # Safety
        /// `acc` is null or initialised and not used elsewhere during the
        /// call; `pred`/`target` point to `len` readable elements.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $update(
            acc: *mut $storage,
            pred: *const f32,
            target: *const f32,
            len: usize,
        ) -> i32 {
            // SAFETY: same contract.
            unsafe { update(acc, pred, target, len) }
        }

        /// Adds a chunk with a `uint8_t` mask.
        ///
        /// # Safety
        /// As the `float` update.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $update_u8(
            acc: *mut $storage,
            pred: *const f32,
            target: *const u8,
            len: usize,
        ) -> i32 {
            // SAFETY: same contract.
            unsafe { update(acc, pred, target, len) }
        }

        /// Adds `other`'s sums into `acc` (same configuration required).
        ///
        /// # Safety
        /// Both are null or initialised accumulators; they may be the same object.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $merge(acc: *mut $storage, other: *const $storage) -> i32 {
            // SAFETY: same contract.
            unsafe { merge(acc, other) }
        }
    )*};
}

streams! {
    segloss_accumulator:
        segloss_accumulator_update, segloss_accumulator_update_u8, segloss_accumulator_merge;
    segloss_region_accumulator:
        segloss_region_accumulator_update,
        segloss_region_accumulator_update_u8,
        segloss_region_accumulator_merge;
}

/// Defines `<prefix>_<loss>`: a loss from the sums so far.
macro_rules! finalisers {
    ($($storage:ty: $name:ident, $cfg:ty, $method:ident;)*) => {$(
        #[doc = concat!("The loss `", stringify!($method), "` from the accumulated sums.")]
        ///
        /// # Safety
        /// `acc` is null or initialised; `cfg` is null or readable; `out` is
        /// null or writable.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(
            acc: *const $storage,
            cfg: *const $cfg,
            out: *mut f32,
        ) -> i32 {
            if out.is_null() {
                return SEGLOSS_ERR_NULL;
            }
            // SAFETY: contract; the reference is only read.
            let acc = match unsafe { accumulator(acc.cast_mut()) } {
                Ok(a) => &*a,
                Err(e) => return e,
            };
            // SAFETY: contract.
            let v = unsafe { config(cfg) }.and_then(|c| acc.$method(&c));
            // SAFETY: contract.
            unsafe { write_out(out, v) }
        }
    )*};
}

finalisers! {
    segloss_accumulator: segloss_accumulator_dice, segloss_region_config, dice;
    segloss_accumulator: segloss_accumulator_jaccard, segloss_region_config, jaccard;
    segloss_accumulator: segloss_accumulator_tversky, segloss_tversky_config, tversky;
    segloss_accumulator: segloss_accumulator_focal, segloss_focal_config, focal;
    segloss_accumulator: segloss_accumulator_sigmoid_focal, segloss_sigmoid_focal_config, sigmoid_focal;
    segloss_accumulator: segloss_accumulator_bce, segloss_bce_config, bce;
    segloss_accumulator: segloss_accumulator_bce_with_logits, segloss_bce_logits_config, bce_with_logits;
    segloss_accumulator: segloss_accumulator_soft_bce, segloss_soft_bce_config, soft_bce;
    segloss_accumulator: segloss_accumulator_mcc, segloss_mcc_config, mcc;
    segloss_accumulator: segloss_accumulator_hard_mcc, segloss_hard_mcc_config, hard_mcc;
    segloss_region_accumulator: segloss_region_accumulator_dice, segloss_region_config, dice;
    segloss_region_accumulator: segloss_region_accumulator_jaccard, segloss_region_config, jaccard;
    segloss_region_accumulator: segloss_region_accumulator_tversky, segloss_tversky_config, tversky;
}

/// segloss's determinism fingerprint: a hash of every math primitive and
/// every binary loss on fixed inputs (`segloss::selftest::fingerprint`). A
/// port gives the same bits as the host when this equals the host's value.
#[unsafe(no_mangle)]
pub extern "C" fn segloss_selftest_fingerprint() -> u64 {
    segloss::selftest::fingerprint()
}

/// Panics cannot happen through this API (every input is validated and every
/// error is a status code), but a `no_std` static library must name a handler.
/// On a hosted target it aborts the process; on bare metal it parks the core.
#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    #[cfg(not(target_os = "none"))]
    {
        unsafe extern "C" {
            safe fn abort() -> !;
        }
        abort()
    }
    #[cfg(target_os = "none")]
    loop {
        core::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip() {
        assert_eq!(segloss_focal_default().to_rust().unwrap(), Focal::default());
        assert_eq!(
            segloss_soft_bce_default().to_rust().unwrap(),
            SoftBce::default()
        );
        assert_eq!(
            segloss_stats_default().to_rust().unwrap(),
            StatsConfig::default()
        );
        assert_eq!(
            segloss_hard_mcc_default().to_rust().unwrap(),
            HardMcc::default()
        );
        assert_eq!(
            segloss_tversky_default().to_rust().unwrap(),
            Tversky::default()
        );
    }

    #[test]
    fn one_shot_matches_the_crate_and_checks_pointers() {
        let pred = [2.0f32, -1.0, 0.5, -3.0, 1.5];
        let mask = [1u8, 0, 1, 0, 0];
        let mut out = f32::NAN;
        // SAFETY: valid arrays of `pred.len()` elements and a valid `out`.
        let st = unsafe {
            segloss_dice_u8(
                pred.as_ptr(),
                mask.as_ptr(),
                pred.len(),
                ptr::null(),
                &mut out,
            )
        };
        assert_eq!(st, SEGLOSS_OK);
        assert_eq!(out, binary::dice(&pred, &mask, &Region::default()).unwrap());
        // SAFETY: null pointers are rejected before any access.
        let st = unsafe { segloss_dice_u8(ptr::null(), mask.as_ptr(), 5, ptr::null(), &mut out) };
        assert_eq!(st, SEGLOSS_ERR_NULL);
    }

    #[test]
    fn accumulator_streams_and_rejects_uninitialised_storage() {
        let pred = [2.0f32, -1.0, 0.5, -3.0, 1.5, 0.0];
        let mask = [1u8, 0, 1, 0, 0, 1];
        let mut acc = segloss_accumulator {
            opaque: [0; SEGLOSS_ACCUMULATOR_BYTES / 8],
        };
        let mut out = f32::NAN;
        // SAFETY: `acc` is valid storage, not yet initialised: rejected by tag.
        let st = unsafe { segloss_accumulator_dice(&acc, ptr::null(), &mut out) };
        assert_eq!(st, SEGLOSS_ERR_UNINIT);
        // SAFETY: valid storage, arrays and out-pointer throughout.
        unsafe {
            assert_eq!(segloss_accumulator_init(&mut acc, ptr::null()), SEGLOSS_OK);
            for (p, m) in pred.chunks(4).zip(mask.chunks(4)) {
                let st = segloss_accumulator_update_u8(&mut acc, p.as_ptr(), m.as_ptr(), p.len());
                assert_eq!(st, SEGLOSS_OK);
            }
            assert_eq!(
                segloss_accumulator_dice(&acc, ptr::null(), &mut out),
                SEGLOSS_OK
            );
        }
        let mut a = BinaryAccumulator::new(StatsConfig::default()).unwrap();
        a.update(&pred[..4], &mask[..4]).unwrap();
        a.update(&pred[4..], &mask[4..]).unwrap();
        assert_eq!(out, a.dice(&Region::default()).unwrap());
    }

    #[test]
    fn region_accumulator_streams_and_keeps_to_its_own_storage() {
        let pred = [2.0f32, -1.0, 0.5, -3.0, 1.5, 0.0];
        let mask = [1u8, 0, 1, 0, 0, 1];
        let mut acc = segloss_region_accumulator {
            opaque: [0; SEGLOSS_REGION_ACCUMULATOR_BYTES / 8],
        };
        let mut full = segloss_accumulator {
            opaque: [0; SEGLOSS_ACCUMULATOR_BYTES / 8],
        };
        let mut out = f32::NAN;
        // SAFETY: valid storage, arrays and out-pointer throughout; the full
        // accumulator's storage is larger than the region one's, so reading
        // it as one stays in bounds.
        unsafe {
            assert_eq!(
                segloss_region_accumulator_init(&mut acc, ptr::null()),
                SEGLOSS_OK
            );
            for (p, m) in pred.chunks(4).zip(mask.chunks(4)) {
                let st =
                    segloss_region_accumulator_update_u8(&mut acc, p.as_ptr(), m.as_ptr(), p.len());
                assert_eq!(st, SEGLOSS_OK);
            }
            assert_eq!(
                segloss_region_accumulator_jaccard(&acc, ptr::null(), &mut out),
                SEGLOSS_OK
            );
            assert_eq!(segloss_accumulator_init(&mut full, ptr::null()), SEGLOSS_OK);
            let as_region = ptr::addr_of!(full).cast::<segloss_region_accumulator>();
            let st = segloss_region_accumulator_dice(as_region, ptr::null(), &mut out);
            assert_eq!(st, SEGLOSS_ERR_UNINIT);
        }
        let mut r = RegionAccumulator::new(Region::default()).unwrap();
        r.update(&pred[..4], &mask[..4]).unwrap();
        r.update(&pred[4..], &mask[4..]).unwrap();
        assert_eq!(out, r.jaccard(&Region::default()).unwrap());
    }
}
