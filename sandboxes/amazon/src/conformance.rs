//! How strictly the sandbox holds clients to the Selling Partner API models: the Swagger 2.0 files of
//! `specs/amazon/` (embedded, loaded once), the limits they state only in prose, the semantic rules the
//! sandbox checks in its handlers, the JSON_LISTINGS_FEED document schema, and Amazon's error body for a
//! request that deviates.

use std::sync::OnceLock;

use axum::response::Response;
use sandbox::spec::{ApiSpec, Scalar, SpecFile};
use sandbox::{
    KnownDeviation, ProseRule, Refused, SemanticRule, Strictness, Target, Violation, spec_file,
};
use serde_json::{Value, json};

/// The models of the operations the sandbox serves.
pub const FILES: &[SpecFile] = &[
    spec_file!("amazon/listingsItems_2021-08-01.json"),
    spec_file!("amazon/feeds_2021-06-30.json"),
    spec_file!("amazon/orders_2026-01-01.json"),
    spec_file!("amazon/ordersV0.json"),
    spec_file!("amazon/reports_2021-06-30.json"),
];

const ORDERS: &str = "amazon/orders_2026-01-01.json";
const ORDERS_V0: &str = "amazon/ordersV0.json";

/// The schema of the document a JSON_LISTINGS_FEED uploads.
const LISTINGS_FEED_SCHEMA: SpecFile = spec_file!("amazon/listings-feed-schema-v2.json");

/// `searchOrders` takes exactly one of `createdAfter` and `lastUpdatedAfter`.
pub const ONE_TIME_FILTER: &str =
    "amazon.searchOrders.exactly-one-of-createdAfter-lastUpdatedAfter";
/// A JSON_LISTINGS_FEED document validates against listings-feed-schema-v2.json.
pub const FEED_DOCUMENT_SCHEMA: &str = "amazon.JSON_LISTINGS_FEED.document-schema";

/// API paths served that the models do not describe.
pub const OUTSIDE: &[(&str, &str, &str)] = &[(
    "POST",
    "/auth/o2/token",
    "Login with Amazon token endpoint (api.amazon.com/auth/o2/token), specified by LWA, not the SP-API models",
)];

/// Limits the models state in descriptions, not schemas.
pub fn prose_rules() -> Vec<ProseRule> {
    vec![
        ProseRule {
            id: "amazon.searchOrders.maxResultsPerPage",
            operation: "searchOrders",
            target: Target::Query("maxResultsPerPage", Scalar::Integer),
            schema: json!({"minimum": 1, "maximum": 100}),
            file: ORDERS,
            quote: "The maximum number of orders that can be returned per page. The value must be between 1 and 100.",
        },
        ProseRule {
            id: "amazon.confirmShipment.orderId",
            operation: "confirmShipment",
            target: Target::Path("orderId", Scalar::String),
            schema: json!({"pattern": "^[0-9]{3}-[0-9]{7}-[0-9]{7}$"}),
            file: ORDERS_V0,
            quote: "An Amazon-defined order identifier, in 3-7-7 format.",
        },
    ]
}

/// What the models say in prose that no schema expresses, and how the sandbox checks it.
pub const SEMANTIC_RULES: &[SemanticRule] = &[
    SemanticRule {
        id: ONE_TIME_FILTER,
        file: ORDERS,
        quote: "You must provide exactly one of `createdAfter` and `lastUpdatedAfter` in your request.",
        check: "deviation and 400 InvalidInput: a searchOrders with neither or both",
    },
    SemanticRule {
        id: FEED_DOCUMENT_SCHEMA,
        file: "amazon/listings-feed-schema-v2.json",
        quote: "JSON Schema describing the document format for JSON Selling Partner Listings Feeds (v2).",
        check: "deviation: createFeed of a JSON_LISTINGS_FEED whose uploaded document does not validate against listings-feed-schema-v2.json (the feed is still processed, message by message)",
    },
];

/// Connector deviations that are filed and not fixed yet (none).
pub const KNOWN_DEVIATIONS: &[KnownDeviation] = &[];

/// The models, loaded on first use.
pub fn spec() -> &'static ApiSpec {
    static SPEC: OnceLock<ApiSpec> = OnceLock::new();
    SPEC.get_or_init(|| {
        ApiSpec::load(FILES, prose_rules(), &[])
            .unwrap_or_else(|e| panic!("the embedded SP-API models do not load: {e}"))
    })
}

/// Amazon's answer to a request that deviates from the models: its `errors[]` body.
pub fn refuse(refused: &Refused<'_>) -> Response {
    let code = match refused.status.as_u16() {
        404 => "NotFound",
        405 => "MethodNotAllowed",
        415 => "UnsupportedMediaType",
        _ => "InvalidInput",
    };
    crate::api::errors(refused.status, code, &refused.describe())
}

pub fn strictness() -> Strictness {
    Strictness::new(spec(), refuse).outside(OUTSIDE)
}

/// Why a JSON_LISTINGS_FEED document does not validate against listings-feed-schema-v2.json (none: it does).
pub fn feed_document_violations(document: &[u8]) -> Vec<Violation> {
    static VALIDATOR: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        let schema: Value =
            serde_json::from_str(LISTINGS_FEED_SCHEMA.text).map_err(|e| e.to_string())?;
        jsonschema::validator_for(&schema).map_err(|e| e.to_string())
    });
    let validator = match validator {
        Ok(validator) => validator,
        Err(e) => {
            return vec![Violation::of(
                "sandbox",
                "feed-document",
                format!("listings-feed-schema-v2.json does not compile: {e}"),
            )];
        }
    };
    let document: Value = match serde_json::from_slice(document) {
        Ok(document) => document,
        Err(e) => {
            return vec![Violation::of(
                FEED_DOCUMENT_SCHEMA,
                "feed-document",
                format!("not JSON: {e}"),
            )];
        }
    };
    validator
        .iter_errors(&document)
        .take(10)
        .map(|e| {
            Violation::of(
                FEED_DOCUMENT_SCHEMA,
                format!("feed-document{}", e.instance_path()),
                format!("{e} (amazon/listings-feed-schema-v2.json)"),
            )
        })
        .collect()
}

/// The usage plan an operation's description states (`| 0.0056 | 20 |`), as (rate, burst) texts.
pub fn usage_plan(operation: &str) -> Option<(String, String)> {
    let file = FILES.iter().find(|f| {
        spec()
            .operations()
            .iter()
            .any(|o| o.id == operation && o.file == f.path)
    })?;
    let document: Value = serde_json::from_str(file.text).ok()?;
    let description = document["paths"]
        .as_object()?
        .values()
        .flat_map(|item| item.as_object().into_iter().flatten())
        .find(|(_, op)| op.get("operationId").and_then(Value::as_str) == Some(operation))?
        .1
        .get("description")?
        .as_str()?
        .to_string();
    let row = description
        .lines()
        .skip_while(|l| !l.contains("Rate (requests per second)"))
        .nth(2)?;
    let cells: Vec<&str> = row
        .split('|')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    Some((cells.first()?.to_string(), cells.get(1)?.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_models_load_and_every_schema_compiles() {
        let problems = spec().compile_all();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn semantic_rules_quote_their_sources() {
        let unquoted = spec().unquoted(FILES, SEMANTIC_RULES, &[LISTINGS_FEED_SCHEMA]);
        assert!(unquoted.is_empty(), "{}", unquoted.join("\n"));
    }

    /// The buckets the sandbox enforces (crds' catalogue) are the usage plans the models state.
    #[test]
    fn enforced_limits_are_the_usage_plans_of_the_models() {
        let mut checked = 0;
        for op in crds::channel::ChannelKind::Amazon.operations() {
            let Some(limit) = op.published else { continue };
            let Some((rate, burst)) = usage_plan(op.name) else {
                continue; // jsonListingsFeed is a feed-type quota, not an operation of the models.
            };
            let rate: rust_decimal::Decimal = rate.parse().unwrap_or_default();
            let published = rust_decimal::Decimal::from(limit.requests)
                * rust_decimal::Decimal::from(1000)
                / rust_decimal::Decimal::from(limit.per_millis);
            assert_eq!(published.round_dp(4), rate, "{} rate", op.name);
            assert_eq!(burst, limit.burst.to_string(), "{} burst", op.name);
            checked += 1;
        }
        assert!(checked >= 12, "only {checked} operations have a usage plan");
    }

    #[test]
    fn a_feed_document_is_checked_against_the_listings_feed_schema() {
        let valid = include_str!("../../../specs/amazon/listings-feed-schema-v2.example.json");
        assert_eq!(feed_document_violations(valid.as_bytes()), vec![]);
        let invalid =
            br#"{"header": {"sellerId": "S", "version": "2.0"}, "messages": [{"messageId": "x"}]}"#;
        let found = feed_document_violations(invalid);
        assert!(!found.is_empty());
        assert!(found.iter().all(|v| v.rule == FEED_DOCUMENT_SCHEMA));
    }
}
