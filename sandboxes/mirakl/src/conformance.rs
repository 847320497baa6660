//! How strictly the sandbox holds clients to the Mirakl seller API: the OpenAPI 3.1 file of `specs/mirakl/`
//! (embedded, loaded once), what it states only in prose, the semantic rules the sandbox checks in its
//! handlers, and Mirakl's error body for a request that deviates.

use std::sync::OnceLock;

use axum::response::Response;
use sandbox::spec::{ApiSpec, Scalar, SpecFile};
use sandbox::{KnownDeviation, ProseRule, Refused, SemanticRule, Strictness, Target, spec_file};
use serde_json::json;

pub const FILES: &[SpecFile] = &[spec_file!("mirakl/mirakl-mmp-seller-openapi.json")];

const SELLER: &str = "mirakl/mirakl-mmp-seller-openapi.json";

/// OF24 sends every offer field; those not sent are reset (quantity to 0).
pub const OF24_ALL_FIELDS: &str = "mirakl.OF24.all-offer-fields";
/// OR21 accepts or refuses the lines of an order waiting for acceptance only.
pub const OR21_WAITING_ACCEPTANCE: &str = "mirakl.OR21.waiting-acceptance-only";
/// OR24 confirms the shipment of an order in SHIPPING only.
pub const OR24_SHIPPING: &str = "mirakl.OR24.shipping-only";

/// What the file says in prose about the parameters the sandbox serves. OR11's offset pagination
/// (`offset`, `max`, `sort`, `order`) is documented in a section the published file leaves out; its page size
/// of at most 100 is Mirakl's documented maximum (specs/README.md).
pub fn prose_rules() -> Vec<ProseRule> {
    let pagination = |id, name, scalar, schema| ProseRule {
        id,
        operation: "OR11",
        target: Target::Query(name, scalar),
        schema,
        file: SELLER,
        quote: "This resource supports offset pagination",
    };
    vec![
        pagination(
            "mirakl.OR11.offset",
            "offset",
            Scalar::Integer,
            json!({"minimum": 0}),
        ),
        pagination(
            "mirakl.OR11.max",
            "max",
            Scalar::Integer,
            json!({"minimum": 1, "maximum": 100}),
        ),
        pagination(
            "mirakl.OR11.sort",
            "sort",
            Scalar::String,
            json!({"enum": ["dateCreated"]}),
        ),
        pagination(
            "mirakl.OR11.order",
            "order",
            Scalar::String,
            json!({"enum": ["asc", "desc"]}),
        ),
    ]
}

/// What the file says in prose that no schema expresses, and how the sandbox checks it.
pub const SEMANTIC_RULES: &[SemanticRule] = &[
    SemanticRule {
        id: OF24_ALL_FIELDS,
        file: SELLER,
        quote: "You must send all offer fields. Offer fields that are not sent are reset to their default value.",
        check: "deviation when an update leaves out a field the offer has a value for; the sandbox applies the reset (quantity \"if not provided, will be set to 0\", the other fields deleted)",
    },
    SemanticRule {
        id: OR21_WAITING_ACCEPTANCE,
        file: SELLER,
        quote: "Accept or refuse order lines in the <code>WAITING_ACCEPTANCE</code> status",
        check: "refusal (400 ORDER_INVALID_STATE, as Mirakl answers) for an order in another state",
    },
    SemanticRule {
        id: OR24_SHIPPING,
        file: SELLER,
        quote: "Validate the shipment of an order in the <code>SHIPPING</code> status",
        check: "refusal (400) for an order in another state",
    },
];

/// Connector deviations that are filed and not fixed yet.
pub const KNOWN_DEVIATIONS: &[KnownDeviation] = &[KnownDeviation {
    id: "mirakl-price-update-without-quantity",
    rule: OF24_ALL_FIELDS,
    issue: 19,
    what: "the connector's price update (OF24) sends shop_sku, product id, state, price and discount but not quantity and the other offer fields, so Mirakl resets the offer's stock to 0; the fix needs the connector state store of issue 19. The sandbox applies the reset and records each such update as this known deviation.",
}];

/// The file, loaded on first use.
pub fn spec() -> &'static ApiSpec {
    static SPEC: OnceLock<ApiSpec> = OnceLock::new();
    SPEC.get_or_init(|| {
        ApiSpec::load(FILES, prose_rules(), &[])
            .unwrap_or_else(|e| panic!("the embedded Mirakl seller API does not load: {e}"))
    })
}

/// Mirakl's answer to a request that deviates: `{"status", "message"}`.
pub fn refuse(refused: &Refused<'_>) -> Response {
    crate::routes::error(refused.status, refused.describe())
}

pub fn strictness() -> Strictness {
    Strictness::new(spec(), refuse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specification_loads_and_the_served_operations_compile() {
        let problems: Vec<String> = spec()
            .compile_all()
            .into_iter()
            .filter(|p| {
                [
                    "STO01", "STO02", "STO03", "OF24", "OR11", "OR21", "OR23", "OR24", "OR29",
                ]
                .iter()
                .any(|op| p.contains(&format!(" {op} (")))
            })
            .collect();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn semantic_rules_quote_their_sources() {
        let unquoted = spec().unquoted(FILES, SEMANTIC_RULES, &[]);
        assert!(unquoted.is_empty(), "{}", unquoted.join("\n"));
    }
}
