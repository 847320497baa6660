//! How strictly the sandbox holds clients to Walmart's specification: the OpenAPI files of `specs/walmart/`
//! (embedded, loaded once), the limits they state only in prose, the semantic rules the sandbox checks in its
//! handlers, and Walmart's error body for a request that deviates.

use std::collections::{HashSet, VecDeque};
use std::sync::{Mutex, OnceLock};

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use sandbox::spec::{ApiSpec, Scalar, SpecFile};
use sandbox::{
    CallRef, Conformance, Erratum, KnownDeviation, ProseRule, Refused, SemanticRule, Strictness,
    Target, Violation, spec_file,
};
use serde_json::json;

/// The Walmart Marketplace (US) specification files the sandbox follows.
pub const FILES: &[SpecFile] = &[
    spec_file!("walmart/walmart-marketplace-authentication.yml"),
    spec_file!("walmart/walmart-marketplace-feeds.yml"),
    spec_file!("walmart/walmart-marketplace-inventory.yml"),
    spec_file!("walmart/walmart-marketplace-orders.yml"),
    spec_file!("walmart/walmart-marketplace-prices.yml"),
    spec_file!("walmart/walmart-marketplace-reports.yml"),
    spec_file!("walmart/walmart-marketplace-returns.yml"),
];

const FEEDS: &str = "walmart/walmart-marketplace-feeds.yml";
const ORDERS: &str = "walmart/walmart-marketplace-orders.yml";
const RETURNS: &str = "walmart/walmart-marketplace-returns.yml";
const REPORTS: &str = "walmart/walmart-marketplace-reports.yml";

/// `WM_QOS.CORRELATION_ID` is a fresh GUID on every call.
pub const UNIQUE_CORRELATION_ID: &str = "walmart.correlation-id.unique-per-call";
/// `reconFileJson` serves v1 reports only.
pub const RECON_JSON_V1_ONLY: &str = "walmart.reconFileJson.v1-reports-only";
/// Lines are acknowledged before they are shipped.
pub const ACKNOWLEDGE_BEFORE_SHIPPING: &str = "walmart.shipping.acknowledged-first";

/// Limits Walmart's specification states in descriptions, not schemas (counts are typed as strings there).
pub fn prose_rules() -> Vec<ProseRule> {
    let count_at_most = |id, operation, name, maximum: u64, file, quote| ProseRule {
        id,
        operation,
        target: Target::Query(name, Scalar::Integer),
        schema: json!({"minimum": 0, "maximum": maximum}),
        file,
        quote,
    };
    let date_or_timestamp = |id, name| ProseRule {
        id,
        operation: "getAllOrders",
        target: Target::Query(name, Scalar::String),
        schema: json!({"pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:?[0-9]{2}))?$"}),
        file: ORDERS,
        quote: "Use either UTC or ISO 8601 formats. Date example: '2020-03-16'(yyyy-MM-dd). Date with Timestamp example: '2020-03-16T10:30:15Z'(yyyy-MM-dd'T'HH:mm:ssZ).",
    };
    // `nextCursor` is passed back verbatim: its parameters are documented by the specification's example.
    let cursor = |id, name| ProseRule {
        id,
        operation: "getAllOrders",
        target: Target::Query(name, Scalar::String),
        schema: json!({}),
        file: ORDERS,
        quote: "?limit=10&hasMoreElements=true&soIndex=31&poIndex=10&partnerId=100009&sellerId=8&createdStartDate=2013-08-16&createdEndDate=2019-09-17T18:47:03.703Z",
    };
    vec![
        cursor(
            "walmart.getAllOrders.nextCursor.hasMoreElements",
            "hasMoreElements",
        ),
        cursor("walmart.getAllOrders.nextCursor.soIndex", "soIndex"),
        cursor("walmart.getAllOrders.nextCursor.poIndex", "poIndex"),
        cursor("walmart.getAllOrders.nextCursor.partnerId", "partnerId"),
        cursor("walmart.getAllOrders.nextCursor.sellerId", "sellerId"),
        count_at_most(
            "walmart.getFeedItemStatus.limit",
            "getFeedItemStatus",
            "limit",
            50,
            FEEDS,
            "The number of entities to be returned. It cannot be more than 50 entities.",
        ),
        count_at_most(
            "walmart.getFeedItemStatus.offset",
            "getFeedItemStatus",
            "offset",
            u64::from(u32::MAX),
            FEEDS,
            "The object response to start with, where 0 is the first entity that can be requested.",
        ),
        count_at_most(
            "walmart.getAllOrders.limit",
            "getAllOrders",
            "limit",
            200,
            ORDERS,
            "The number of orders to be returned. Cannot be larger than 200.",
        ),
        count_at_most(
            "walmart.getReturns.limit",
            "getReturns",
            "limit",
            200,
            RETURNS,
            "The number of orders to be returned. Cannot be larger than 200",
        ),
        count_at_most(
            "walmart.reconFileJson.noOfRecords",
            "getAvailableV1ReconReportAsJson",
            "noOfRecords",
            1000,
            REPORTS,
            "number of records in the report (max limit 1000)",
        ),
        date_or_timestamp(
            "walmart.getAllOrders.lastModifiedStartDate",
            "lastModifiedStartDate",
        ),
        date_or_timestamp("walmart.getAllOrders.createdStartDate", "createdStartDate"),
        ProseRule {
            id: "walmart.correlation-id.guid",
            operation: "*",
            target: Target::Header("WM_QOS.CORRELATION_ID"),
            schema: json!({"pattern": "^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"}),
            file: FEEDS,
            quote: "A unique ID which identifies each API call and used to track and debug issues; use a random generated GUID for this ID",
        },
    ]
}

/// Where the specification's schemas contradict its own examples (and Walmart's answers).
pub const ERRATA: &[Erratum] = &[Erratum {
    file: REPORTS,
    pointer: "/paths/~1v3~1report~1reconreport~1reconFileJson/get/responses/200/content/application~1json/schema/properties/reportData/items/additionalProperties",
    was: r#"{"type": "object", "description": "content of the CSV file in the list format, each element in the list represents the row in CSV file.\t"}"#,
    now: r#"{"type": "string"}"#,
    why: "reportData rows map column names to cell texts: the response example of the same operation has strings (\"Currency\": \"USD\", \"Total Payable\": \"0.74\"), not objects",
}];

/// What the specification says in prose that no schema expresses, and how the sandbox checks it.
pub const SEMANTIC_RULES: &[SemanticRule] = &[
    SemanticRule {
        id: UNIQUE_CORRELATION_ID,
        file: FEEDS,
        quote: "A unique ID which identifies each API call",
        check: "deviation: a WM_QOS.CORRELATION_ID seen on an earlier call (of the last 100,000) is recorded; the call is served",
    },
    SemanticRule {
        id: RECON_JSON_V1_ONLY,
        file: REPORTS,
        quote: "This API will get a partner’s transaction details in JSON format for a specific date range (available only for v1 reports).",
        check: "deviation and 404: reconFileJson for a date that has only a legacy report (one listed by availableReconFiles without reportVersion=v1)",
    },
    SemanticRule {
        id: ACKNOWLEDGE_BEFORE_SHIPPING,
        file: "README.md",
        quote: "Orders must be acknowledged before they are shipped.",
        check: "refusal (400, as Walmart answers): shipping a line that is still Created; the connector acknowledges and retries",
    },
];

/// Connector deviations that are filed and not fixed yet (none).
pub const KNOWN_DEVIATIONS: &[KnownDeviation] = &[];

/// The specification, loaded on first use.
pub fn spec() -> &'static ApiSpec {
    static SPEC: OnceLock<ApiSpec> = OnceLock::new();
    SPEC.get_or_init(|| {
        ApiSpec::load(FILES, prose_rules(), ERRATA)
            .unwrap_or_else(|e| panic!("the embedded Walmart specification does not load: {e}"))
    })
}

/// Walmart's answer to a request that deviates from the specification: its `errors[]` body.
pub fn refuse(refused: &Refused<'_>) -> Response {
    let code = match refused.status {
        StatusCode::NOT_FOUND => "CONTENT_NOT_FOUND.GMP_GATEWAY_API",
        StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED.GMP_GATEWAY_API",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE.GMP_GATEWAY_API",
        _ => "INVALID_REQUEST_PARAM.GMP_GATEWAY_API",
    };
    crate::api::errors(refused.status, code, refused.field(), &refused.describe())
}

pub fn strictness() -> Strictness {
    Strictness::new(spec(), refuse)
}

/// The correlation ids of recent calls, to find one used twice.
#[derive(Debug, Default)]
pub struct SeenIds {
    inner: Mutex<(HashSet<String>, VecDeque<String>)>,
}

const SEEN_CAPACITY: usize = 100_000;

impl SeenIds {
    /// Notes the call's `WM_QOS.CORRELATION_ID`; a repeat is recorded as a deviation.
    pub fn note(&self, conformance: &Conformance, call: CallRef<'_>, headers: &HeaderMap) {
        let Some(id) = crate::api::header(headers, "WM_QOS.CORRELATION_ID") else {
            return;
        };
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (set, order) = &mut *inner;
        if !set.insert(id.to_string()) {
            drop(inner);
            conformance.request_violation(
                call,
                200,
                Violation::of(
                    UNIQUE_CORRELATION_ID,
                    "header.WM_QOS.CORRELATION_ID",
                    format!(
                        "{id} was already used by an earlier call ({FEEDS}: \"A unique ID which identifies each API call\")"
                    ),
                ),
            );
            return;
        }
        order.push_back(id.to_string());
        if order.len() > SEEN_CAPACITY
            && let Some(oldest) = order.pop_front()
        {
            set.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specification_loads_and_every_schema_compiles() {
        let problems = spec().compile_all();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        assert!(spec().operation("getFeedItemStatus").is_some());
    }

    #[test]
    fn semantic_rules_quote_their_sources() {
        let unquoted = spec().unquoted(FILES, SEMANTIC_RULES, &[]);
        assert!(unquoted.is_empty(), "{}", unquoted.join("\n"));
    }
}
