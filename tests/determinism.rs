//! The same bits on every target: the fingerprints of every primitive and
//! every loss on fixed inputs (binary; multiclass and multilabel, forward
//! and backward) equal the committed values. The targets script runs this
//! test on x86-64 (SSE2 and AVX2), aarch64, wasm32 (with and without
//! simd128); the Cortex-M firmware, built without the `nchw` feature,
//! checks the binary fingerprint only.

#[test]
fn fingerprint_matches_the_committed_value() {
    assert_eq!(
        segloss::selftest::fingerprint(),
        segloss::selftest::EXPECTED
    );
}

#[cfg(feature = "nchw")]
#[test]
fn multiclass_and_multilabel_fingerprint_matches_the_committed_value() {
    assert_eq!(
        segloss::selftest::fingerprint_nchw(),
        segloss::selftest::EXPECTED_NCHW
    );
}
