//! Test support shared by the integration tests and the conformance
//! example: a JSON parser, the conformance-case loader, the plain f64
//! oracle of every loss, the tolerance table, and the mapping of a case onto
//! segloss. Different binaries use different parts, hence `dead_code`.
#![allow(dead_code)]

pub mod cases;
pub mod json;
pub mod oracle;
pub mod run;
pub mod tolerance;

/// The shared conformance file: `SEGLOSS_REFERENCE`, or `../shared/reference/smp_torch.jsonl`.
pub fn reference_path() -> String {
    std::env::var("SEGLOSS_REFERENCE").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/reference/smp_torch.jsonl"
        )
        .to_owned()
    })
}
