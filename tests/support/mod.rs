//! Test support shared by the integration tests: a JSON parser, the
//! conformance-case loader and the plain f64 oracle of every loss.
//! Different test binaries use different parts, hence `dead_code`.
#![allow(dead_code)]

pub mod cases;
pub mod json;
pub mod oracle;
