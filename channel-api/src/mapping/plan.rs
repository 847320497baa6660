//! A compiled `ChannelMapping`: what evaluating a record needs, and nothing that has to be parsed again.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use cel::Context;
use cel::common::ast::IdedExpr;
use crds::channel::{ChannelKind, Direction, Flow};

use super::shortcut::Shortcut;
use super::target::TargetPath;
use super::typecheck::FieldPath;

/// A `ChannelMapping` compiled once (see [`MappingPlan::compile`]) and applied to every record of its flows.
#[derive(Debug)]
pub struct MappingPlan {
    pub(super) name: Arc<str>,
    pub(super) channel: ChannelKind,
    pub(super) flows: Vec<FlowPlan>,
}

impl MappingPlan {
    /// `metadata.name` of the `ChannelMapping`.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn channel(&self) -> ChannelKind {
        self.channel
    }

    /// The compiled mapping of `flow`, or `None` when the resource does not map it: the connector's built-in
    /// mapping then applies, and records pass through unchanged.
    pub fn flow(&self, flow: Flow) -> Option<&FlowPlan> {
        self.flows.iter().find(|plan| plan.flow == flow)
    }

    /// Every mapped flow, in the order of the resource.
    pub fn flows(&self) -> impl Iterator<Item = &FlowPlan> {
        self.flows.iter()
    }
}

/// The compiled mapping of one flow. [`FlowPlan::apply`] maps a record.
pub struct FlowPlan {
    pub(super) mapping: Arc<str>,
    pub(super) flow: Flow,
    /// `record` or `payload`.
    pub(super) variable: &'static str,
    pub(super) fields: Vec<FieldPlan>,
    /// The input's top-level fields the interpreted expressions read (those without a shortcut); `None` when one
    /// reads the input as a whole.
    pub(super) root_fields: Option<BTreeSet<String>>,
    /// The standard functions, the value maps, `sku` and the string functions. Each record is evaluated in a
    /// child scope of it, which holds just the record: building a context with its functions per record would
    /// cost more than evaluating a small mapping.
    pub(super) context: Context<'static>,
}

impl FlowPlan {
    pub fn flow(&self) -> Flow {
        self.flow
    }

    pub fn direction(&self) -> Direction {
        self.flow.direction()
    }

    /// The target fields, in the order of the resource.
    pub fn targets(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|field| field.target.as_str())
    }
}

impl fmt::Debug for FlowPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlowPlan")
            .field("mapping", &self.mapping)
            .field("flow", &self.flow)
            .field("variable", &self.variable)
            .field("targets", &self.targets().collect::<Vec<_>>())
            .field("root_fields", &self.root_fields)
            .finish_non_exhaustive()
    }
}

/// One target field.
pub(super) struct FieldPlan {
    pub target: TargetPath,
    /// Parsed, checked and rewritten (`maps.<name>[value]` is a call).
    pub expression: IdedExpr,
    /// How to get the same result without the interpreter, for the expressions simple enough.
    pub shortcut: Option<Shortcut>,
    /// `default`, parsed.
    pub default: Option<serde_json::Value>,
    /// Constant field paths the expression reads, to name the one a record lacks.
    pub paths: Vec<FieldPath>,
}
