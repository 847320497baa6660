//! How strictly the sandbox holds clients to eBay's Sell API specifications: the OpenAPI files of
//! `specs/ebay/` (embedded, loaded once), the limits they state only in prose, the semantic rules the sandbox
//! checks in its handlers, and eBay's error body for a request that deviates.

use std::sync::OnceLock;

use axum::response::Response;
use sandbox::spec::{ApiSpec, Scalar, SpecFile};
use sandbox::{KnownDeviation, ProseRule, Refused, SemanticRule, Strictness, Target, spec_file};
use serde_json::json;

/// The Sell APIs the sandbox serves.
pub const FILES: &[SpecFile] = &[
    spec_file!("ebay/ebay-inventory.yml"),
    spec_file!("ebay/ebay-fulfillment.yml"),
    spec_file!("ebay/ebay-finances.yml"),
];

const INVENTORY: &str = "ebay/ebay-inventory.yml";
const FULFILLMENT: &str = "ebay/ebay-fulfillment.yml";
const FINANCES: &str = "ebay/ebay-finances.yml";

/// A fulfillment names its carrier and tracking number together, or neither.
pub const CARRIER_WITH_TRACKING: &str =
    "ebay.createShippingFulfillment.carrier-and-tracking-together";
/// 250 revisions of one listing per calendar day.
pub const REVISIONS_PER_DAY: &str = "ebay.listing.250-revisions-per-calendar-day";
/// How many revisions of one listing eBay allows in a calendar day.
pub const REVISIONS_PER_DAY_LIMIT: u64 = 250;

/// API paths served that these specifications do not describe.
pub const OUTSIDE: &[(&str, &str, &str)] = &[(
    "POST",
    "/identity/v1/oauth2/token",
    "eBay OAuth token endpoint, specified by eBay's OAuth documentation, not the Sell API files",
)];

/// Limits the specifications state in descriptions, not schemas (counts are typed as strings there).
pub fn prose_rules() -> Vec<ProseRule> {
    let count = |id, operation, name, minimum: u64, maximum: u64, file, quote| ProseRule {
        id,
        operation,
        target: Target::Query(name, Scalar::Integer),
        schema: json!({"minimum": minimum, "maximum": maximum}),
        file,
        quote,
    };
    vec![
        count(
            "ebay.getOrders.limit",
            "getOrders",
            "limit",
            1,
            200,
            FULFILLMENT,
            "If a requested limit is more than 200, the call fails and returns an error.",
        ),
        count(
            "ebay.getOrders.offset",
            "getOrders",
            "offset",
            0,
            u64::from(u32::MAX),
            FULFILLMENT,
            "Specifies the number of orders to skip in the result set before returning the first order in the paginated response.",
        ),
        ProseRule {
            id: "ebay.getOrders.orderIds",
            operation: "getOrders",
            target: Target::Query("orderIds", Scalar::String),
            schema: json!({"pattern": "^[^,]+(,[^,]+){0,49}$"}),
            file: FULFILLMENT,
            quote: "A comma-separated list of the unique identifiers of the orders to retrieve (maximum 50).",
        },
        count(
            "ebay.getOffers.limit",
            "getOffers",
            "limit",
            1,
            u64::from(u32::MAX),
            INVENTORY,
            "Although this field is a string, the value passed in this field should be a positive integer value.",
        ),
        count(
            "ebay.getOffers.offset",
            "getOffers",
            "offset",
            0,
            u64::from(u32::MAX),
            INVENTORY,
            "the value passed in this field should be a integer value equal to or greater than <code>0</code>.",
        ),
        count(
            "ebay.getPayouts.limit",
            "getPayouts",
            "limit",
            1,
            200,
            FINANCES,
            "The number of payouts to return per page of the result set.",
        ),
        count(
            "ebay.getTransactions.limit",
            "getTransactions",
            "limit",
            1,
            1000,
            FINANCES,
            "<b>Maximum:</b><code> 1000</code>",
        ),
        ProseRule {
            id: "ebay.createShippingFulfillment.shippedDate",
            operation: "createShippingFulfillment",
            target: Target::Body("/shippedDate"),
            schema: json!({"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"}),
            file: FULFILLMENT,
            quote: "<b>Format:</b> <code>[YYYY]-[MM]-[DD]T[hh]:[mm]:[ss].[sss]Z</code>",
        },
    ]
}

/// What the specifications say in prose that no schema expresses, and how the sandbox checks it.
pub const SEMANTIC_RULES: &[SemanticRule] = &[
    SemanticRule {
        id: CARRIER_WITH_TRACKING,
        file: FULFILLMENT,
        quote: "This field and the <b>shippingCarrierCode</b> field are mutually dependent. If you include one, you must also include the other.",
        check: "deviation and 400: a fulfillment with a tracking number and no carrier, or the reverse",
    },
    SemanticRule {
        id: REVISIONS_PER_DAY,
        file: INVENTORY,
        quote: "Each listing can be revised up to 250 times in one calendar day.",
        check: "refusal (errorId 25002 for that SKU in bulk_update_price_quantity, as eBay blocks the revision): the 251st revision of one listing in a UTC calendar day (each request entry of a SKU in a call is one revision of its listing)",
    },
];

/// Connector deviations that are filed and not fixed yet (none).
pub const KNOWN_DEVIATIONS: &[KnownDeviation] = &[];

/// The specifications, loaded on first use.
pub fn spec() -> &'static ApiSpec {
    static SPEC: OnceLock<ApiSpec> = OnceLock::new();
    SPEC.get_or_init(|| {
        ApiSpec::load(FILES, prose_rules(), &[])
            .unwrap_or_else(|e| panic!("the embedded eBay specifications do not load: {e}"))
    })
}

/// eBay's answer to a request that deviates: its `errors[]` body (errorId 2004, invalid request), in the
/// domain of the API called.
pub fn refuse(refused: &Refused<'_>) -> Response {
    let domain = match refused.operation {
        Some("getOffers" | "bulkUpdatePriceQuantity") => "API_INVENTORY",
        Some("getOrders" | "createShippingFulfillment") => "API_FULFILLMENT",
        Some("getPayouts" | "getTransactions") => "API_FINANCES",
        _ => "ACCESS",
    };
    crate::routes::error(refused.status, 2004, domain, &refused.describe())
}

pub fn strictness() -> Strictness {
    Strictness::new(spec(), refuse).outside(OUTSIDE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specifications_load_and_every_schema_compiles() {
        let problems = spec().compile_all();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn semantic_rules_quote_their_sources() {
        let unquoted = spec().unquoted(FILES, SEMANTIC_RULES, &[]);
        assert!(unquoted.is_empty(), "{}", unquoted.join("\n"));
    }
}
