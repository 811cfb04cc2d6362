//! The same bits on every target: the fingerprint of every primitive and
//! every binary loss on fixed inputs equals the committed value. The targets
//! script runs this test on x86-64 (SSE2 and AVX2), aarch64, wasm32 (with
//! and without simd128) and the Cortex-M firmware checks the same function.

#[test]
fn fingerprint_matches_the_committed_value() {
    assert_eq!(segloss::selftest::fingerprint(), segloss::selftest::EXPECTED);
}
