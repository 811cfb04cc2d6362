//! Writes `$OUT_DIR/segloss_expected.h` for the C test (`tests/test.c`): fixed
//! inputs and the values segloss itself computes from them on the host, as
//! `float` bit patterns. CI finds the file through cargo's build-script output.

use std::fmt::Write as _;
use std::path::PathBuf;

use segloss::{
    Bce, BceWithLogits, BinaryAccumulator, Focal, HardMcc, Mcc, Region, RegionAccumulator,
    SigmoidFocal, SoftBce, StatsConfig, Tversky, binary,
};

/// Mask shape: odd sizes so every row has a vector tail.
const ROWS: usize = 19;
const COLS: usize = 29;

/// xorshift32: a fixed stream of inputs, the same on every host.
struct Rng(u32);
impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 8) as f32 / (1u32 << 24) as f32
    }
}

fn array(out: &mut String, name: &str, v: &[f32]) {
    writeln!(out, "static const uint32_t {name}[{}] = {{", v.len()).unwrap();
    for x in v {
        writeln!(out, "    {:#010x}u, /* {x:e} */", x.to_bits()).unwrap();
    }
    out.push_str("};\n");
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let n = ROWS * COLS;
    let mut rng = Rng(0xc0de_5e61);
    let (mut logits, mut hard, mut soft) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        logits.push(if i % 83 == 7 {
            95.0
        } else {
            (rng.unit() - 0.5) * 12.0
        });
        let h = u8::from(rng.unit() < 0.4);
        hard.push(h);
        soft.push(if i % 4 == 0 { rng.unit() } else { f32::from(h) });
    }
    let prob: Vec<f32> = logits
        .iter()
        .map(|&l| (1.0 / (1.0 + (-f64::from(l)).exp())) as f32)
        .collect();
    let (l, p, h, s) = (&logits[..], &prob[..], &hard[..], &soft[..]);

    let mut e: Vec<(&str, f32)> = Vec::new();
    let mut put = |name, r: Result<f32, segloss::Error>| {
        e.push((name, r.unwrap_or_else(|err| panic!("{name}: {err}"))));
    };
    // Defaults (a null config in C). Inputs: logits where the default is logits.
    put("DICE_U8", binary::dice(l, h, &Region::default()));
    put("JACCARD_U8", binary::jaccard(l, h, &Region::default()));
    put("TVERSKY_U8", binary::tversky(l, h, &Tversky::default()));
    put("FOCAL_U8", binary::focal(l, h, &Focal::default()));
    put(
        "SIGMOID_FOCAL_U8",
        binary::sigmoid_focal(l, h, &SigmoidFocal::default()),
    );
    put("BCE_U8", binary::bce(p, h, &Bce::default()));
    put(
        "BCE_WITH_LOGITS_U8",
        binary::bce_with_logits(l, h, &BceWithLogits::default()),
    );
    put("SOFT_BCE_U8", binary::soft_bce(l, h, &SoftBce::default()));
    put("MCC_U8", binary::mcc(p, h, &Mcc::default()));
    put("HARD_MCC_U8", binary::hard_mcc(p, h, &HardMcc::default()));
    put("DICE_F32", binary::dice(l, s, &Region::default()));
    put("FOCAL_F32", binary::focal(l, s, &Focal::default()));
    put("BCE_F32", binary::bce(p, s, &Bce::default()));
    put("SOFT_BCE_F32", binary::soft_bce(l, s, &SoftBce::default()));
    put("MCC_F32", binary::mcc(p, s, &Mcc::default()));
    // Explicit configurations, mirrored field by field in test.c.
    let tv = Tversky::new(0.3, 0.7, 1.5)
        .unwrap()
        .with_region(Region::default().with_smooth(1.0));
    put("TVERSKY_CFG", binary::tversky(l, h, &tv));
    let fc = Focal::default()
        .with_from_logits(false)
        .with_alpha(Some(0.25))
        .with_gamma(1.5);
    put("FOCAL_CFG", binary::focal(p, s, &fc));
    let sb = SoftBce::default()
        .with_smooth_factor(Some(0.1))
        .with_pos_weight(2.0);
    put("SOFT_BCE_CFG", binary::soft_bce(l, s, &sb));
    // Streaming, one row per update, default statistics (logits).
    let mut acc = BinaryAccumulator::new(StatsConfig::default()).unwrap();
    for r in 0..ROWS {
        let row = r * COLS..(r + 1) * COLS;
        acc.update(&l[row.clone()], &h[row]).unwrap();
    }
    put("STREAM_DICE", acc.dice(&Region::default()));
    put("STREAM_FOCAL", acc.focal(&Focal::default()));
    put(
        "STREAM_BCE_WITH_LOGITS",
        acc.bce_with_logits(&BceWithLogits::default()),
    );
    put(
        "STREAM_SIGMOID_FOCAL",
        acc.sigmoid_focal(&SigmoidFocal::default()),
    );
    put(
        "STREAM_MCC",
        acc.mcc(&Mcc::default().with_from_logits(true)),
    );
    put(
        "STREAM_HARD_MCC",
        acc.hard_mcc(&HardMcc::default().with_from_logits(true)),
    );
    // Two halves merged.
    let half = |rows: std::ops::Range<usize>| {
        let mut a = BinaryAccumulator::new(StatsConfig::default()).unwrap();
        a.update(
            &l[rows.start * COLS..rows.end * COLS],
            &h[rows.start * COLS..rows.end * COLS],
        )
        .unwrap();
        a
    };
    let mut m = half(0..ROWS / 2);
    m.merge(&half(ROWS / 2..ROWS)).unwrap();
    put("MERGE_DICE", m.dice(&Region::default()));
    // The region sums alone: probabilities, float targets, one row per
    // update (mirrored in test.c), then Dice, Jaccard and Tversky.
    let rp = Region::default().with_from_logits(false);
    let mut r = RegionAccumulator::new(rp).unwrap();
    for row in 0..ROWS {
        let row = row * COLS..(row + 1) * COLS;
        r.update(&p[row.clone()], &s[row]).unwrap();
    }
    put("REGION_STREAM_DICE", r.dice(&rp));
    put("REGION_STREAM_JACCARD", r.jaccard(&rp.with_log_loss(true)));
    put("REGION_STREAM_TVERSKY", r.tversky(&tv.with_region(rp)));
    // Logits and the mask in two halves, merged.
    let mut ra = RegionAccumulator::new(Region::default()).unwrap();
    let mut rb = ra;
    let mid = ROWS / 2 * COLS;
    ra.update(&l[..mid], &h[..mid]).unwrap();
    rb.update(&l[mid..], &h[mid..]).unwrap();
    ra.merge(&rb).unwrap();
    put("REGION_MERGE_DICE", ra.dice(&Region::default()));

    let mut out = String::new();
    out.push_str("/* @generated by capi/build.rs: inputs and host-computed expected values. */\n");
    out.push_str("#include <stdint.h>\n");
    writeln!(
        out,
        "#define ROWS {ROWS}\n#define COLS {COLS}\n#define N ({ROWS} * {COLS})"
    )
    .unwrap();
    array(&mut out, "LOGITS_BITS", l);
    array(&mut out, "PROB_BITS", p);
    array(&mut out, "SOFT_BITS", s);
    writeln!(out, "static const uint8_t HARD[{n}] = {{").unwrap();
    for c in h.chunks(COLS) {
        let row: Vec<String> = c.iter().map(u8::to_string).collect();
        writeln!(out, "    {},", row.join(", ")).unwrap();
    }
    out.push_str("};\n");
    for (name, v) in &e {
        writeln!(
            out,
            "#define EXPECT_{name} {:#010x}u /* {v:e} */",
            v.to_bits()
        )
        .unwrap();
    }
    writeln!(
        out,
        "#define EXPECT_FINGERPRINT UINT64_C({:#018x})",
        segloss::selftest::fingerprint()
    )
    .unwrap();
    let dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    std::fs::write(dir.join("segloss_expected.h"), out).unwrap();
}
