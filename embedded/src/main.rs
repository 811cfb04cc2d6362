//! Cortex-M4F firmware: runs segloss's binary losses on fixed inputs and checks
//! each result bit for bit against the value the host computed (see build.rs).
//! Output and the exit status go through semihosting, so under QEMU
//! `cargo run --release` passes or fails like a test.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m as _; // the critical-section implementation cortex-m-rt links against
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};

#[allow(dead_code)]
mod checks;

#[cfg(feature = "by-use")]
mod by_use;

#[allow(dead_code)]
mod cases {
    include!(concat!(env!("OUT_DIR"), "/cases.rs"));
}

#[entry]
fn main() -> ! {
    let failures = run();
    if failures == 0 {
        hprintln!("firmware: ok");
        debug::exit(debug::EXIT_SUCCESS);
    } else {
        hprintln!("firmware: {} check(s) FAILED", failures);
        debug::exit(debug::EXIT_FAILURE);
    }
    #[allow(clippy::empty_loop)] // not reached: the semihosting exit ends QEMU
    loop {}
}

/// The firmware's inputs, each through `black_box` (never constant-folded).
#[cfg(not(feature = "baseline"))]
#[allow(dead_code)] // not read by every `use-…` firmware
fn inputs() -> checks::Inputs<'static> {
    checks::Inputs {
        rows: cases::ROWS,
        cols: cases::COLS,
        prob: black_box(&cases::PROB[..]),
        logits: black_box(&cases::LOGITS[..]),
        hard: black_box(&cases::HARD[..]),
        soft: black_box(&cases::SOFT[..]),
    }
}

/// Prints each result against the host's value; returns the failures (a
/// wrong name, a different bit pattern, or a count that differs).
#[cfg(not(any(feature = "baseline", feature = "by-use")))]
fn report(got: &[(&str, f32)], expected: &[(&str, u32)]) -> usize {
    let mut failures = usize::from(got.len() != expected.len());
    for ((name, v), (ename, ebits)) in got.iter().zip(expected) {
        let ok = name == ename && v.to_bits() == *ebits;
        if !ok {
            failures += 1;
        }
        hprintln!(
            "{} {:<24} got {:e} ({:#010x}) want {:e} ({:#010x})",
            if ok { "pass" } else { "FAIL" },
            name,
            v,
            v.to_bits(),
            f32::from_bits(*ebits),
            ebits
        );
    }
    failures
}

#[cfg(not(any(feature = "baseline", feature = "ten", feature = "by-use")))]
fn run() -> usize {
    let got = checks::all(&inputs());
    let mut failures = report(&got, &cases::EXPECTED);
    failures += fingerprint();
    hprintln!("firmware: {} results, {} failed", got.len() + 1, failures);
    failures
}

/// Each binary loss once (`--features ten`), with every configuration a
/// run-time value: the firmware of the flash goal (`embedded/flash.py`
/// attributes its `.text`), checked like the full one.
#[cfg(all(feature = "ten", not(any(feature = "baseline", feature = "by-use"))))]
fn run() -> usize {
    let got = checks::ten(&inputs(), &black_box(checks::Configs::new()));
    let failures = report(&got, &cases::EXPECTED[..checks::TEN]);
    hprintln!("firmware (ten): {} results, {} failed", got.len(), failures);
    failures
}

/// Same bits as the host: segloss's fingerprint of every primitive and loss.
#[cfg(all(
    not(any(feature = "baseline", feature = "ten", feature = "by-use")),
    feature = "fingerprint"
))]
fn fingerprint() -> usize {
    let mut failures = 0;
    let fp = segloss::selftest::fingerprint();
    let fp_ok = fp == cases::HOST_FINGERPRINT;
    hprintln!(
        "{} selftest::fingerprint     got {:#018x} want {:#018x} (host)",
        if fp_ok { "pass" } else { "FAIL" },
        fp,
        cases::HOST_FINGERPRINT
    );
    failures += usize::from(!fp_ok);
    // Once segloss pins EXPECTED (non-zero), the firmware must match it too.
    if segloss::selftest::EXPECTED != 0 && fp != segloss::selftest::EXPECTED {
        hprintln!("FAIL selftest::fingerprint differs from segloss::selftest::EXPECTED");
        failures += 1;
    }
    failures
}

#[cfg(all(
    not(any(feature = "baseline", feature = "ten", feature = "by-use")),
    not(feature = "fingerprint")
))]
fn fingerprint() -> usize {
    0
}

/// The same firmware without a single loss call: what the loss code adds to
/// flash is the difference in `.text`.
#[cfg(feature = "baseline")]
fn run() -> usize {
    let x = black_box(&cases::PROB[..]);
    hprintln!("baseline {} {:e}", x.len(), x[0]);
    0
}

/// One kind of call, its result printed (`--features use-…`, see
/// [`by_use`]).
#[cfg(all(feature = "by-use", not(feature = "baseline")))]
fn run() -> usize {
    by_use::run()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("firmware panicked: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    #[allow(clippy::empty_loop)] // not reached: the semihosting exit ends QEMU
    loop {}
}
