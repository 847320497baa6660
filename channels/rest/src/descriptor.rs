//! What Tradewind knows about the generic `rest` channel (a B2B portal): the flows this connector runs, one
//! operation per flow (the portal publishes its own limits, so the `RateLimitPolicy` states them), and that the
//! portal's URL is required. Its Secret keys are named by the Marketplace itself (`spec.rest.auth.secretKey`,
//! `spec.rest.orders.webhook.hmacSecretKey`), so the descriptor lists none.

use crds::channel::{
    BaseUrlRule, ChannelDescriptor, ChannelKind, DefaultBaseUrl, EndpointRules, Flow, FlowSupport,
    TokenUrl, op,
};

pub static DESCRIPTOR: ChannelDescriptor = ChannelDescriptor {
    kind: ChannelKind::Rest,
    api: "a B2B portal's REST endpoints (spec.rest)",
    flows: &[
        FlowSupport {
            flow: Flow::Inventory,
            summary: "inventory batches to the portal",
            operations: &["inventory"],
        },
        FlowSupport {
            flow: Flow::Price,
            summary: "price batches to the portal",
            operations: &["price"],
        },
        FlowSupport {
            flow: Flow::Catalog,
            summary: "catalog batches to the portal",
            operations: &["catalog"],
        },
        FlowSupport {
            flow: Flow::Orders,
            summary: "orders polled from the portal or pushed to the signed webhook; order updates back",
            operations: &["orders"],
        },
        FlowSupport {
            flow: Flow::Shipments,
            summary: "shipment callbacks to the portal",
            operations: &["shipments"],
        },
    ],
    operations: &[
        op(
            "inventory",
            "inventory batches to the portal's endpoint",
            None,
            None,
        ),
        op(
            "price",
            "price batches to the portal's endpoint",
            None,
            None,
        ),
        op(
            "catalog",
            "catalog batches to the portal's endpoint",
            None,
            None,
        ),
        op("orders", "orders: polling the portal", None, None),
        op("shipments", "shipment callbacks to the portal", None, None),
    ],
    secret_keys: &[],
    endpoint: EndpointRules {
        base_url: BaseUrlRule {
            what: "the portal's base URL",
            schemes: &["https", "http"],
            default: DefaultBaseUrl::Required,
        },
        token_url: TokenUrl::None,
        required: &[],
    },
    revision_budget: None,
};
