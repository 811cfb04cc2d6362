//! One kernel in a loop, for instruction counts under callgrind (the numbers in
//! BENCHMARKS.md "Why: instruction counts"): 2^16 elements, `reps` calls.
//!
//! ```text
//! cargo bench --bench kernel_loop --no-run      # prints the binary's path
//! K=$(ls -t target/release/deps/kernel_loop-* | grep -v '\.d$' | head -1)
//! valgrind --tool=callgrind $K none 20   # setup only
//! valgrind --tool=callgrind $K dice 20
//! ```
//!
//! (instructions of `dice` − instructions of `none`) / (20 · 2^16) is the
//! per-element count. Kernels: none dice diceu8 dicep diceig (with an
//! ignore index that no target equals) bcel bce focal focal15
//! (γ = 1.5) sfocal mccp fused fusedp dicebwd focalbwd focal15bwd bcebwd mccbwd
//! mc4 mc16 mcce4 mcrt4 mc4bwd mcce4bwd mccbwdl (MCC from logits) ml4 ml4bwd
//! (multilabel Dice, C = 4).

use segloss::*;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("dice", String::as_str);
    if which.starts_with("--") {
        // `cargo bench` passes `--bench`: this is a callgrind tool, not a benchmark.
        println!("kernel_loop: run the binary under callgrind with a kernel name (see its header)");
        return;
    }
    let n = 1usize << 16;
    let reps: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let mut s = 0x1234_5678u32;
    let mut rnd = || {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        (s as f32) / 4294967296.0
    };
    let x: Vec<f32> = (0..n).map(|_| rnd() * 8.0 - 4.0).collect();
    let p: Vec<f32> = (0..n).map(|_| rnd()).collect();
    let y: Vec<f32> = (0..n)
        .map(|_| if rnd() > 0.5 { 1.0 } else { 0.0 })
        .collect();
    let yu: Vec<u8> = y.iter().map(|&v| v as u8).collect();
    let mut g = vec![0f32; n];
    // Multiclass: n pixels... use n/4 pixels x 4 classes, and n/16 x 16.
    let lab4: Vec<u8> = (0..n / 4).map(|i| (x[i].to_bits() % 4) as u8).collect();
    let lab16: Vec<u8> = (0..n / 16).map(|i| (x[i].to_bits() % 16) as u8).collect();
    let sh4 = multiclass::Shape::new(1, 4, n / 4).unwrap();
    let sh16 = multiclass::Shape::new(1, 16, n / 16).unwrap();
    let cl = multiclass::Classes::default();
    let dl = multiclass::Loss::Region(Tversky::dice(Region::default()));
    let dce = multiclass::Loss::RegionCe {
        region: Tversky::dice(Region::default()),
        ce: multiclass::CrossEntropy::default(),
        lambda_region: 1.0,
        lambda_ce: 1.0,
    };
    let mut acc = 0f32;
    let t = std::time::Instant::now();
    for _ in 0..reps {
        acc += match which {
            "dice" => binary::dice(&x, &y, &Region::default()).unwrap(),
            "diceu8" => binary::dice(&x, &yu, &Region::default()).unwrap(),
            "dicep" => binary::dice(&p, &y, &Region::default().with_from_logits(false)).unwrap(),
            "diceig" => {
                binary::dice(&x, &y, &Region::default().with_ignore_index(Some(255.0))).unwrap()
            }
            "bcel" => binary::bce_with_logits(&x, &y, &BceWithLogits::default()).unwrap(),
            "focal" => binary::focal(&x, &y, &Focal::default()).unwrap(),
            "focal15" => binary::focal(&x, &y, &Focal::default().with_gamma(1.5)).unwrap(),
            "fused" => {
                let mut a = BinaryAccumulator::new(StatsConfig::default()).unwrap();
                a.update(&x, &y).unwrap();
                a.dice(&Region::default()).unwrap()
            }
            "dicebwd" => backward::binary::dice(&x, &y, &Region::default(), &mut g, 1.0).unwrap(),
            "focalbwd" => backward::binary::focal(&x, &y, &Focal::default(), &mut g, 1.0).unwrap(),
            "focal15bwd" => {
                let f = Focal::default().with_gamma(1.5);
                backward::binary::focal(&x, &y, &f, &mut g, 1.0).unwrap()
            }
            "none" => 0.0,
            "mc4" => multiclass::loss_fixed::<4, u8>(&x, &lab4, sh4, &dl, &cl).unwrap(),
            "mc16" => multiclass::loss_fixed::<16, u8>(&x, &lab16, sh16, &dl, &cl).unwrap(),
            "mcce4" => multiclass::loss_fixed::<4, u8>(&x, &lab4, sh4, &dce, &cl).unwrap(),
            "mcrt4" => multiclass::loss(&x, &lab4, sh4, &dl, &cl).unwrap(),
            "mc4bwd" => {
                backward::multiclass::loss_fixed::<4, u8>(&x, &lab4, sh4, &dl, &cl, &mut g, 1.0)
                    .unwrap()
            }
            "mcce4bwd" => {
                backward::multiclass::loss_fixed::<4, u8>(&x, &lab4, sh4, &dce, &cl, &mut g, 1.0)
                    .unwrap()
            }
            "bce" => binary::bce(&p, &y, &Bce::default()).unwrap(),
            "mccp" => binary::mcc(&p, &y, &Mcc::default().with_from_logits(false)).unwrap(),
            "sfocal" => binary::sigmoid_focal(&x, &y, &SigmoidFocal::default()).unwrap(),
            "fusedp" => {
                let mut a =
                    BinaryAccumulator::new(StatsConfig::default().with_from_logits(false)).unwrap();
                a.update(&p, &y).unwrap();
                a.dice(&Region::default().with_from_logits(false)).unwrap()
            }
            "bcebwd" => {
                backward::binary::bce_with_logits(&x, &y, &BceWithLogits::default(), &mut g, 1.0)
                    .unwrap()
            }
            "mccbwd" => backward::binary::mcc(&x, &y, &Mcc::default(), &mut g, 1.0).unwrap(),
            "mccbwdl" => {
                let m = Mcc::default().with_from_logits(true);
                backward::binary::mcc(&x, &y, &m, &mut g, 1.0).unwrap()
            }
            "ml4" => multilabel::dice(&x, &y, sh4, &Region::default(), &cl).unwrap(),
            "ml4bwd" => {
                backward::multilabel::dice(&x, &y, sh4, &Region::default(), &cl, &mut g, 1.0)
                    .unwrap()
            }
            other => panic!("unknown kernel {other}"),
        };
    }
    let dt = t.elapsed().as_secs_f64();
    println!("{which}: {:.3} G/s ({acc})", (n * reps) as f64 / dt / 1e9);
}
