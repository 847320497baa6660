//! What Tradewind knows about an EDI trading partner exchanging ANSI X12 004010 interchanges: the flows this
//! connector runs (846, 850/855, 856, 810), the transport's two operations, the SFTP Secret keys, and what the
//! Marketplace must name (the transport, the partner's interchange id, our trading-partner settings).

use crds::channel::{
    BaseUrlRule, ChannelDescriptor, ChannelKind, DefaultBaseUrl, EndpointField, EndpointRules,
    Flow, FlowSupport, RequiredField, SecretKey, SecretNeed, TokenUrl, op,
};

/// The SFTP user.
pub const USERNAME: SecretKey = SecretKey {
    name: "username",
    need: SecretNeed::WithScheme("sftp"),
    what: "the SFTP user the partner issued",
};
/// The SFTP login key.
pub const SSH_PRIVATE_KEY: SecretKey = SecretKey {
    name: "ssh_private_key",
    need: SecretNeed::WithScheme("sftp"),
    what: "an OpenSSH private key without passphrase registered with the partner",
};
/// The server's host keys.
pub const KNOWN_HOSTS: SecretKey = SecretKey {
    name: "known_hosts",
    need: SecretNeed::WithScheme("sftp"),
    what: "the SFTP server's host key line(s)",
};

/// The longest interchange id X12 allows (ISA06/ISA08).
pub const MAX_INTERCHANGE_ID: usize = 15;

pub static DESCRIPTOR: ChannelDescriptor = ChannelDescriptor {
    kind: ChannelKind::EdiX12,
    api: "ANSI X12 004010 interchanges over SFTP or a folder",
    flows: &[
        FlowSupport {
            flow: Flow::Inventory,
            summary: "846 inventory advice",
            operations: &["send"],
        },
        FlowSupport {
            flow: Flow::Orders,
            summary: "850 purchase orders read; 855 acknowledgements back",
            operations: &["receive", "send"],
        },
        FlowSupport {
            flow: Flow::Shipments,
            summary: "856 ship notices",
            operations: &["send"],
        },
        FlowSupport {
            flow: Flow::Invoices,
            summary: "810 invoices",
            operations: &["send"],
        },
    ],
    operations: &[
        op(
            "send",
            "putting an interchange on the transport (SFTP or folder)",
            None,
            None,
        ),
        op(
            "receive",
            "listing and fetching interchanges from the transport",
            None,
            None,
        ),
    ],
    secret_keys: &[USERNAME, SSH_PRIVATE_KEY, KNOWN_HOSTS],
    endpoint: EndpointRules {
        base_url: BaseUrlRule {
            what: "the partner's transport: sftp://host:port/dir or file:///dir",
            schemes: &["sftp", "file"],
            default: DefaultBaseUrl::Required,
        },
        token_url: TokenUrl::None,
        required: &[
            RequiredField {
                field: EndpointField::SellerId {
                    max_len: Some(MAX_INTERCHANGE_ID),
                },
                what: "the partner's interchange id (1 to 15 characters) in spec.endpoint.sellerId",
            },
            RequiredField {
                field: EndpointField::EdiSettings,
                what: "the trading-partner settings: spec.edi.interchangeId at least",
            },
        ],
    },
    revision_budget: None,
};
