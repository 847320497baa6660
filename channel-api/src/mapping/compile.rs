//! `ChannelMapping` spec to [`MappingPlan`]: every expression parsed and checked, value maps and the SKU
//! cross-reference turned into lookup tables, defaults parsed. Every problem is collected, so that one reconcile
//! reports all of them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use cel::{ParseErrors, Program};
use crds::channel::{Direction, Flow};
use crds::v1alpha1::{ChannelMappingSpec, FieldMapping, FlowMapping, OnMissing};

use super::catalogue::{self, ANY, FieldError, Shape};
use super::error::CompileError;
use super::functions::{SkuTable, ValueMapTable, base_context};
use super::plan::{FieldPlan, FlowPlan, MappingPlan};
use super::shortcut;
use super::suggest;
use super::target::TargetPath;
use super::typecheck::{self, Environment};

impl MappingPlan {
    /// Compiles the `ChannelMapping` named `name`. Every problem is returned at once, each with its path in the
    /// resource.
    pub fn compile(
        name: &str,
        spec: &ChannelMappingSpec,
    ) -> Result<MappingPlan, Vec<CompileError>> {
        let mapping: Arc<str> = Arc::from(name);
        let mut errors = Vec::new();
        let tables = value_maps(&mapping, spec, &mut errors);
        let map_names: BTreeSet<String> = tables.iter().map(|t| t.name.clone()).collect();
        let skus = sku_tables(&mapping, spec, &mut errors);

        let mut first_at: BTreeMap<Flow, usize> = BTreeMap::new();
        let mut flows = Vec::new();
        for (i, flow_mapping) in spec.flows.iter().enumerate() {
            if let Some(first) = first_at.get(&flow_mapping.flow) {
                errors.push(CompileError {
                    mapping: name.to_string(),
                    flow: Some(flow_mapping.flow),
                    field_path: format!("spec.flows[{i}].flow"),
                    target: None,
                    message: format!("flow mapped twice (first at spec.flows[{first}])"),
                });
                continue;
            }
            first_at.insert(flow_mapping.flow, i);
            let compiler = FlowCompiler::new(&mapping, i, flow_mapping.flow, &map_names);
            if let Some(plan) = compiler.compile(flow_mapping, &tables, &skus, &mut errors) {
                flows.push(plan);
            }
        }
        if errors.is_empty() {
            Ok(MappingPlan {
                name: mapping,
                channel: spec.channel,
                flows,
            })
        } else {
            Err(errors)
        }
    }
}

/// The value maps as lookup tables; duplicate names and fallback-less `UseFallback` maps are errors.
fn value_maps(
    mapping: &Arc<str>,
    spec: &ChannelMappingSpec,
    errors: &mut Vec<CompileError>,
) -> Vec<Arc<ValueMapTable>> {
    let mut first_at: HashMap<&str, usize> = HashMap::new();
    let mut tables = Vec::new();
    for (i, map) in spec.value_maps.iter().enumerate() {
        let spec_error = |field: &str, message: String| CompileError {
            mapping: mapping.to_string(),
            flow: None,
            field_path: format!("spec.valueMaps[{i}].{field}"),
            target: None,
            message,
        };
        if let Some(first) = first_at.insert(map.name.as_str(), i) {
            errors.push(spec_error(
                "name",
                format!(
                    "value map `{}` is defined twice (first at spec.valueMaps[{first}])",
                    map.name
                ),
            ));
            continue;
        }
        if map.on_missing == OnMissing::UseFallback && map.fallback.is_none() {
            errors.push(spec_error(
                "fallback",
                "onMissing: UseFallback needs a fallback value".to_string(),
            ));
        }
        tables.push(Arc::new(ValueMapTable::new(
            &map.name,
            map.entries.clone(),
            map.on_missing,
            map.fallback.as_deref(),
        )));
    }
    tables
}

/// The cross-reference per direction. Both columns must be unique, or one direction could not be looked up.
struct SkuTables {
    outbound: Arc<SkuTable>,
    inbound: Arc<SkuTable>,
}

fn sku_tables(
    mapping: &Arc<str>,
    spec: &ChannelMappingSpec,
    errors: &mut Vec<CompileError>,
) -> SkuTables {
    let mut erp_at: HashMap<&str, usize> = HashMap::new();
    let mut channel_at: HashMap<&str, usize> = HashMap::new();
    for (i, pair) in spec.sku_cross_reference.iter().enumerate() {
        let duplicate = |field: &str, message: String| CompileError {
            mapping: mapping.to_string(),
            flow: None,
            field_path: format!("spec.skuCrossReference[{i}].{field}"),
            target: None,
            message,
        };
        if let Some(first) = erp_at.insert(pair.erp_sku.as_str(), i) {
            errors.push(duplicate(
                "erpSku",
                format!(
                    "ERP SKU {:?} is listed twice (first at spec.skuCrossReference[{first}])",
                    pair.erp_sku
                ),
            ));
        }
        if let Some(first) = channel_at.insert(pair.channel_sku.as_str(), i) {
            errors.push(duplicate(
                "channelSku",
                format!(
                    "channel SKU {:?} is listed twice (first at spec.skuCrossReference[{first}]); inbound \
                     sku() could not tell which ERP SKU it is",
                    pair.channel_sku
                ),
            ));
        }
    }
    let pairs = &spec.sku_cross_reference;
    SkuTables {
        outbound: Arc::new(SkuTable::new(
            pairs
                .iter()
                .map(|p| (p.erp_sku.clone(), p.channel_sku.clone())),
        )),
        inbound: Arc::new(SkuTable::new(
            pairs
                .iter()
                .map(|p| (p.channel_sku.clone(), p.erp_sku.clone())),
        )),
    }
}

/// One flow being compiled: where it is in the resource and what its expressions and targets can name.
struct FlowCompiler<'a> {
    mapping: &'a Arc<str>,
    /// Its index in `spec.flows`.
    index: usize,
    flow: Flow,
    environment: Environment<'a>,
    /// The canonical record inbound targets must be fields of; `None` outbound, where targets are the channel's.
    target_shape: Option<&'static Shape>,
}

impl<'a> FlowCompiler<'a> {
    fn new(
        mapping: &'a Arc<str>,
        index: usize,
        flow: Flow,
        map_names: &'a BTreeSet<String>,
    ) -> Self {
        let canonical = catalogue::record_shape(flow);
        // Outbound, expressions read the canonical record and targets are the channel's (unknown here); inbound,
        // expressions read the channel's payload (unknown here) and targets are canonical fields.
        let (environment, target_shape) = match flow.direction() {
            Direction::Outbound => (
                Environment {
                    variable: "record",
                    other_variable: "payload",
                    shape: canonical.unwrap_or(&ANY),
                    value_maps: map_names,
                },
                None,
            ),
            Direction::Inbound => (
                Environment {
                    variable: "payload",
                    other_variable: "record",
                    shape: &ANY,
                    value_maps: map_names,
                },
                canonical,
            ),
        };
        Self {
            mapping,
            index,
            flow,
            environment,
            target_shape,
        }
    }

    fn error(&self, field: usize, part: &str, target: &str, message: String) -> CompileError {
        CompileError {
            mapping: self.mapping.to_string(),
            flow: Some(self.flow),
            field_path: format!("spec.flows[{}].fields[{field}].{part}", self.index),
            target: Some(target.to_string()),
            message,
        }
    }

    fn compile(
        &self,
        flow_mapping: &FlowMapping,
        tables: &[Arc<ValueMapTable>],
        skus: &SkuTables,
        errors: &mut Vec<CompileError>,
    ) -> Option<FlowPlan> {
        let errors_before = errors.len();
        let mut fields: Vec<FieldPlan> = Vec::new();
        // Every target parsed so far, including those of fields with other problems, to report each clash.
        let mut targets: Vec<TargetPath> = Vec::new();
        let mut root_fields = Vec::new();
        for (j, field) in flow_mapping.fields.iter().enumerate() {
            let Some(compiled) = self.compile_field(j, field, &mut targets, errors) else {
                continue;
            };
            root_fields.push(compiled.root_fields);
            fields.push(compiled.plan);
        }
        if errors.len() > errors_before {
            return None;
        }
        let skus = match self.flow.direction() {
            Direction::Outbound => &skus.outbound,
            Direction::Inbound => &skus.inbound,
        };
        for field in &mut fields {
            field.shortcut =
                shortcut::recognise(&field.expression, self.environment.variable, tables, skus);
        }
        // The interpreter's copy of a record needs only what the interpreted fields read.
        let root_fields = fields
            .iter()
            .zip(root_fields)
            .filter(|(field, _)| field.shortcut.is_none())
            .try_fold(BTreeSet::new(), |mut all, (_, these)| {
                all.extend(these?);
                Some(all)
            });
        Some(FlowPlan {
            mapping: Arc::clone(self.mapping),
            flow: self.flow,
            variable: self.environment.variable,
            fields,
            root_fields,
            context: base_context(tables, Arc::clone(skus)),
        })
    }

    /// One field's plan, or `None` after pushing its problems.
    fn compile_field(
        &self,
        j: usize,
        field: &FieldMapping,
        targets: &mut Vec<TargetPath>,
        errors: &mut Vec<CompileError>,
    ) -> Option<CompiledField> {
        let name = field.target.as_str();
        let before = errors.len();

        let target = match TargetPath::parse(name) {
            Ok(target) => Some(target),
            Err(message) => {
                errors.push(self.error(j, "target", name, message));
                None
            }
        };
        if let Some(target) = &target {
            if let Some(clash) = targets.iter().find(|t| t.clashes_with(target)) {
                let message = if clash == target {
                    "target mapped twice".to_string()
                } else {
                    format!(
                        "target clashes with `{}`: one would overwrite the other",
                        clash.as_str()
                    )
                };
                errors.push(self.error(j, "target", name, message));
            }
            targets.push(target.clone());
            if let Some(shape) = self.target_shape
                && let Err(message) = check_target(shape, target)
            {
                errors.push(self.error(j, "target", name, message));
            }
        }

        let default = match field
            .default
            .as_deref()
            .map(serde_json::from_str::<serde_json::Value>)
        {
            None => None,
            Some(Ok(value)) => Some(value),
            Some(Err(e)) => {
                errors.push(self.error(
                    j,
                    "default",
                    name,
                    format!("not a JSON literal (write strings in double quotes: '\"EA\"'): {e}"),
                ));
                None
            }
        };

        let checked = match parse(&field.expression) {
            Err(message) => {
                errors.push(self.error(j, "expression", name, message));
                None
            }
            Ok(program) => match typecheck::check(program.expression(), &self.environment) {
                Ok(checked) => Some(checked),
                Err(problems) => {
                    for message in problems {
                        errors.push(self.error(j, "expression", name, message));
                    }
                    None
                }
            },
        };

        if errors.len() > before {
            return None;
        }
        let (target, checked) = (target?, checked?);
        Some(CompiledField {
            plan: FieldPlan {
                target,
                expression: checked.expression,
                shortcut: None,
                default,
                paths: checked.paths,
            },
            root_fields: checked.root_fields,
        })
    }
}

struct CompiledField {
    plan: FieldPlan,
    /// The input's top-level fields the expression reads; `None` for all of them.
    root_fields: Option<BTreeSet<String>>,
}

/// Parses an expression. The parser is third-party code fed with user input: should it panic, the mapping is
/// refused rather than the operator brought down.
fn parse(source: &str) -> Result<Program, String> {
    match catch_unwind(AssertUnwindSafe(|| Program::compile(source))) {
        Ok(Ok(program)) => Ok(program),
        Ok(Err(errors)) => Err(syntax_message(&errors)),
        Err(_) => Err("the CEL parser cannot read this expression".to_string()),
    }
}

fn syntax_message(errors: &ParseErrors) -> String {
    let parts: Vec<String> = errors
        .errors
        .iter()
        .map(|e| format!("line {}, column {}: {}", e.pos.0, e.pos.1, e.msg))
        .collect();
    format!("CEL syntax error: {}", parts.join("; "))
}

/// An inbound target must be a field of the canonical record; lists are crossed to their elements
/// (`lines.quantity`).
fn check_target(shape: &Shape, target: &TargetPath) -> Result<(), String> {
    let record = shape.describe().to_string();
    let mut current = shape;
    for (depth, segment) in target.segments().iter().enumerate() {
        if let Shape::List(element) = current {
            current = element;
        }
        let so_far = target.segments()[..depth].join(".");
        current = match current.field(segment) {
            Ok(next) => next,
            Err(FieldError::Unknown { known }) => {
                let hint = suggest::hint(segment, known.iter().map(String::as_str));
                let owner = if so_far.is_empty() {
                    record
                } else {
                    format!("{record}.{so_far} ({})", current.describe())
                };
                return Err(format!(
                    "unknown canonical field `{}`: {owner} has no field `{segment}`{hint}",
                    target.as_str()
                ));
            }
            Err(FieldError::NotAnObject { kind }) => {
                return Err(format!(
                    "`{so_far}` of {record} is a {kind}, which has no field `{segment}`"
                ));
            }
        };
    }
    Ok(())
}
