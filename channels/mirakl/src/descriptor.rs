//! What Tradewind knows about a Mirakl marketplace's seller API (`specs/mirakl/mirakl-mmp-seller-openapi.json`):
//! the flows this connector runs, the operations it calls with the "Maximum usage" each one's description
//! publishes, the API-key Secret key, and that every operator runs its own host.

use crds::channel::{
    BaseUrlRule, ChannelDescriptor, ChannelKind, DefaultBaseUrl, EndpointRules, Flow, FlowSupport,
    Operation, SecretKey, SecretNeed, TokenUrl, op, per_period,
};

const MIRAKL_FREQ: &str = "Mirakl seller API: maximum usage once per minute";

/// Listing orders: once a minute, pages of at most 100 (OR11's `max`).
pub const OR11: Operation = op(
    "OR11",
    "orders: listing (pages of 100)",
    per_period(1, 60_000, 1, MIRAKL_FREQ),
    Some(100),
);

/// The shop's API key.
pub const API_KEY: SecretKey = SecretKey {
    name: "api_key",
    need: SecretNeed::Required,
    what: "the shop's API key (back office > My user settings > API key), sent as Authorization",
};

pub static DESCRIPTOR: ChannelDescriptor = ChannelDescriptor {
    kind: ChannelKind::Mirakl,
    api: "Mirakl seller API",
    flows: &[
        FlowSupport {
            flow: Flow::Inventory,
            summary: "stock imports (STO01 CSV), their status and error reports",
            operations: &["STO01", "STO02", "STO03"],
        },
        FlowSupport {
            flow: Flow::Price,
            summary: "offer updates (OF24)",
            operations: &["OF24"],
        },
        FlowSupport {
            flow: Flow::Orders,
            summary: "orders polled (OR11); acceptance or refusal (OR21), cancellation (OR29)",
            operations: &["OR11", "OR21", "OR29"],
        },
        FlowSupport {
            flow: Flow::Shipments,
            summary: "tracking (OR23) and shipment confirmation (OR24)",
            operations: &["OR23", "OR24"],
        },
        FlowSupport {
            flow: Flow::Returns,
            summary: "not read yet",
            operations: &["RT11"],
        },
        FlowSupport {
            flow: Flow::Settlements,
            summary: "not read yet",
            operations: &["TL02"],
        },
    ],
    operations: &[
        op(
            "STO01",
            "inventory: stock import (CSV)",
            per_period(1, 60_000, 1, MIRAKL_FREQ),
            None,
        ),
        op(
            "STO02",
            "inventory: stock import status",
            per_period(
                1,
                15_000,
                1,
                "Mirakl seller API: STO02 maximum usage once every 15 seconds",
            ),
            None,
        ),
        op(
            "STO03",
            "inventory: stock import error report",
            per_period(1, 60_000, 1, MIRAKL_FREQ),
            None,
        ),
        op(
            "OF24",
            "price: offers update",
            per_period(1, 60_000, 1, MIRAKL_FREQ),
            None,
        ),
        OR11,
        op("OR21", "orders: accept or refuse lines", None, None),
        op("OR23", "shipments: tracking", None, None),
        op("OR24", "shipments: confirm shipment", None, None),
        op("OR29", "orders: cancel an accepted order", None, None),
        op("RT11", "returns: listing", None, Some(100)),
        op("TL02", "settlements: transaction logs", None, Some(100)),
    ],
    secret_keys: &[API_KEY],
    endpoint: EndpointRules {
        base_url: BaseUrlRule {
            what: "the operator's Mirakl instance (https://<operator>.mirakl.net)",
            schemes: &["https", "http"],
            default: DefaultBaseUrl::Required,
        },
        token_url: TokenUrl::None,
        required: &[],
    },
    revision_budget: None,
};
