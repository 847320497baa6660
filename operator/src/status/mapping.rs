//! A `ChannelMapping`'s validity: every expression compiled and type-checked, or each error with its field path.

use adapter_runtime::mapping::MappingPlan;
use crds::v1alpha1::{ChannelMappingSpec, MappingError, condition};

use super::conditions::Observed;

/// The errors of `spec` (empty when it compiles) and the `MappingValid` condition.
pub fn mapping_validity(name: &str, spec: &ChannelMappingSpec) -> (Vec<MappingError>, Observed) {
    match MappingPlan::compile(name, spec) {
        Ok(_) => (
            Vec::new(),
            Observed::new(
                condition::MAPPING_VALID,
                true,
                "Compiled",
                "every expression compiled",
            ),
        ),
        Err(errors) => {
            let listed: Vec<MappingError> = errors.iter().filter_map(|e| e.to_status()).collect();
            let first = errors.first().map(ToString::to_string).unwrap_or_default();
            let message = format!("{} expression error(s); first: {first}", errors.len());
            (
                listed,
                Observed::new(condition::MAPPING_VALID, false, "CompileError", message),
            )
        }
    }
}
