//! Reading `schemas/` into the model the emitter writes out: code tables,
//! structs, operations. Only the subset of OpenAPI / JSON Schema our
//! schemas use is understood; anything else is an error naming where it is,
//! so that the schema cannot say something the code silently ignores.

use anyhow::{Context, anyhow, bail};
use serde_norway::{Mapping, Value};

/// File name of the Gateway schema, as cross-file `$ref`s spell it.
pub const API_FILE: &str = "fse-gateway.openapi.yaml";

/// Everything generated from the schemas.
#[derive(Debug)]
pub struct Model {
    /// Code tables (named string enumerations), in schema order.
    pub tables: Vec<Table>,
    /// Object schemas of the Gateway API, in schema order.
    pub api_structs: Vec<Struct>,
    /// Object schemas of the JWT claims, in schema order.
    pub claim_structs: Vec<Struct>,
    /// Operations, in path order.
    pub operations: Vec<Operation>,
}

/// A code table.
#[derive(Debug)]
pub struct Table {
    pub name: String,
    pub doc: String,
    pub values: Vec<TableValue>,
}

/// One value of a code table.
#[derive(Debug)]
pub struct TableValue {
    pub wire: String,
    pub variant: String,
    pub description: Option<String>,
}

/// An object schema.
#[derive(Debug)]
pub struct Struct {
    pub name: String,
    pub doc: String,
    pub fields: Vec<Field>,
    /// Unknown properties are refused (`additionalProperties: false` or
    /// `unevaluatedProperties: false`).
    pub closed: bool,
}

/// A property of an object schema.
#[derive(Debug)]
pub struct Field {
    pub wire: String,
    pub rust: String,
    pub ty: Ty,
    pub required: bool,
    pub doc: String,
    pub empty_is_none: bool,
    pub deprecated: bool,
    /// Holds personal data: `Debug` masks it.
    pub personal: bool,
}

/// The Rust type of a property.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    String,
    Bool,
    U16,
    U64,
    I32,
    I64,
    Vec(Box<Ty>),
    /// A generated table or struct.
    Named(String),
    /// A hand-written type (`x-rust-type`).
    Path(String),
}

/// One operation of the API.
#[derive(Debug)]
pub struct Operation {
    pub id: String,
    pub method: String,
    pub path: String,
    pub summary: String,
    pub body: Body,
    pub success: Vec<u16>,
    pub action_ids: Vec<String>,
    pub purposes: Vec<String>,
    pub bearer: bool,
    pub signature: bool,
    pub callback: bool,
    pub provider_side: bool,
}

/// The request body of an operation.
#[derive(Debug, PartialEq)]
pub enum Body {
    None,
    /// A JSON body of this struct.
    Json(String),
    /// A multipart body: a `requestBody` JSON part of this struct and a `file` part.
    Multipart(String),
}

/// Which document a schema lives in.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Doc {
    Api,
    Claims,
}

struct Reader<'a> {
    api: &'a Value,
    claims: &'a Value,
}

/// Reads both schemas.
pub fn read(api: &Value, claims: &Value) -> anyhow::Result<Model> {
    let reader = Reader { api, claims };
    let api_schemas = reader.schemas(Doc::Api)?;
    let mut tables = Vec::new();
    let mut api_structs = Vec::new();
    for (name, schema) in api_schemas {
        let what = || format!("components/schemas/{name}");
        match reader.kind(Doc::Api, schema).with_context(what)? {
            Kind::Table => tables.push(read_table(name, schema).with_context(what)?),
            Kind::Struct => api_structs.push(
                reader
                    .read_struct(Doc::Api, name, schema)
                    .with_context(what)?,
            ),
            Kind::Skip => {}
        }
    }
    let mut claim_structs = Vec::new();
    for (name, schema) in reader.schemas(Doc::Claims)? {
        let what = || format!("$defs/{name}");
        match reader.kind(Doc::Claims, schema).with_context(what)? {
            Kind::Struct => claim_structs.push(
                reader
                    .read_struct(Doc::Claims, name, schema)
                    .with_context(what)?,
            ),
            Kind::Skip => {}
            Kind::Table => bail!("{}: code tables belong in {API_FILE}", what()),
        }
    }
    let operations = reader.operations()?;
    Ok(Model {
        tables,
        api_structs,
        claim_structs,
        operations,
    })
}

enum Kind {
    Table,
    Struct,
    Skip,
}

impl<'a> Reader<'a> {
    fn root(&self, doc: Doc) -> &'a Value {
        match doc {
            Doc::Api => self.api,
            Doc::Claims => self.claims,
        }
    }

    /// The named schemas of a document, in order.
    fn schemas(&self, doc: Doc) -> anyhow::Result<Vec<(&'a str, &'a Value)>> {
        let map = match doc {
            Doc::Api => at(self.api, &["components", "schemas"]),
            Doc::Claims => at(self.claims, &["$defs"]),
        }
        .and_then(Value::as_mapping)
        .ok_or_else(|| anyhow!("{doc:?} schema has no named schemas"))?;
        map.iter()
            .map(|(k, v)| {
                Ok((
                    k.as_str()
                        .ok_or_else(|| anyhow!("schema name {k:?} is not a string"))?,
                    v,
                ))
            })
            .collect()
    }

    fn schema(&self, doc: Doc, name: &str) -> anyhow::Result<&'a Value> {
        let path: &[&str] = match doc {
            Doc::Api => &["components", "schemas", name],
            Doc::Claims => &["$defs", name],
        };
        at(self.root(doc), path).ok_or_else(|| anyhow!("no schema {name} in {doc:?}"))
    }

    /// Resolves a schema `$ref` to the document and name it points to.
    fn target(&self, from: Doc, reference: &str) -> anyhow::Result<(Doc, String)> {
        let (file, pointer) = reference
            .split_once('#')
            .ok_or_else(|| anyhow!("$ref {reference:?} has no '#'"))?;
        let doc = match file {
            "" => from,
            API_FILE => Doc::Api,
            other => bail!("$ref to unknown file {other:?}"),
        };
        let name = match doc {
            Doc::Api => pointer.strip_prefix("/components/schemas/"),
            Doc::Claims => pointer.strip_prefix("/$defs/"),
        }
        .ok_or_else(|| anyhow!("$ref {reference:?} does not point at a named schema"))?;
        self.schema(doc, name)?;
        Ok((doc, name.to_owned()))
    }

    fn kind(&self, doc: Doc, schema: &Value) -> anyhow::Result<Kind> {
        if schema.get("enum").is_some() {
            if doc == Doc::Api && str_at(schema, "type") == Some("string") {
                return Ok(Kind::Table);
            }
            bail!("an enumeration must be a string schema of {API_FILE}");
        }
        if schema.get("x-rust-type").is_some() || bool_at(schema, "x-fse-mixin") {
            return Ok(Kind::Skip);
        }
        match str_at(schema, "type") {
            Some("object") if self.is_form(doc, schema)? => Ok(Kind::Skip),
            Some("object") => Ok(Kind::Struct),
            Some("string") if str_at(schema, "format") == Some("binary") => Ok(Kind::Skip),
            other => {
                bail!("named schemas must be tables, objects, binary or x-rust-type, not {other:?}")
            }
        }
    }

    /// Whether an object is a multipart form (it has a binary part).
    fn is_form(&self, doc: Doc, schema: &Value) -> anyhow::Result<bool> {
        let Some(props) = schema.get("properties").and_then(Value::as_mapping) else {
            return Ok(false);
        };
        for (_, prop) in props {
            let target = match str_at(prop, "$ref") {
                Some(r) => {
                    let (d, n) = self.target(doc, r)?;
                    self.schema(d, &n)?
                }
                None => prop,
            };
            if str_at(target, "format") == Some("binary") {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn read_struct(&self, doc: Doc, name: &str, schema: &Value) -> anyhow::Result<Struct> {
        let mut fields: Vec<Field> = Vec::new();
        let mut required: Vec<String> = Vec::new();
        if let Some(parts) = schema.get("allOf") {
            for part in parts
                .as_sequence()
                .ok_or_else(|| anyhow!("allOf is not a list"))?
            {
                let part_schema = match str_at(part, "$ref") {
                    Some(r) => {
                        let (d, n) = self.target(doc, r)?;
                        let s = self.schema(d, &n)?;
                        if !bool_at(s, "x-fse-mixin") {
                            bail!("allOf member {n} must be marked x-fse-mixin");
                        }
                        (d, s)
                    }
                    None => (doc, part),
                };
                self.collect(part_schema.0, part_schema.1, &mut fields, &mut required)?;
            }
        }
        self.collect(doc, schema, &mut fields, &mut required)?;
        for r in &required {
            let field = fields
                .iter_mut()
                .find(|f| &f.wire == r)
                .ok_or_else(|| anyhow!("required property {r} is not defined"))?;
            field.required = true;
        }
        if let Some(clash) = fields.iter().find(|f| f.rust == "additional") {
            bail!(
                "property {} takes the Rust name `additional`, which holds unlisted properties",
                clash.wire
            );
        }
        let closed = schema.get("additionalProperties").and_then(Value::as_bool) == Some(false)
            || schema.get("unevaluatedProperties").and_then(Value::as_bool) == Some(false);
        Ok(Struct {
            name: name.to_owned(),
            doc: description(schema),
            fields,
            closed,
        })
    }

    /// Adds an object schema's own properties and required names.
    fn collect(
        &self,
        doc: Doc,
        schema: &Value,
        fields: &mut Vec<Field>,
        required: &mut Vec<String>,
    ) -> anyhow::Result<()> {
        if let Some(props) = schema.get("properties") {
            let props = props
                .as_mapping()
                .ok_or_else(|| anyhow!("properties is not a map"))?;
            for (wire, prop) in props {
                let wire = wire
                    .as_str()
                    .ok_or_else(|| anyhow!("property name {wire:?} is not a string"))?;
                if fields.iter().any(|f| f.wire == wire) {
                    bail!("property {wire} is defined twice");
                }
                fields.push(
                    self.field(doc, wire, prop)
                        .with_context(|| format!("property {wire}"))?,
                );
            }
        }
        if let Some(names) = schema.get("required") {
            for name in names
                .as_sequence()
                .ok_or_else(|| anyhow!("required is not a list"))?
            {
                required.push(
                    name.as_str()
                        .ok_or_else(|| anyhow!("required entry is not a string"))?
                        .to_owned(),
                );
            }
        }
        Ok(())
    }

    fn field(&self, doc: Doc, wire: &str, prop: &Value) -> anyhow::Result<Field> {
        let rust = match str_at(prop, "x-rust-name") {
            Some(name) => name.to_owned(),
            None => snake_case(wire),
        };
        if is_keyword(&rust) {
            bail!("{rust} is a Rust keyword: give an x-rust-name");
        }
        let ty = self.ty(doc, prop)?;
        let mut doc_text = description(prop);
        if let (true, Some(r)) = (doc_text.is_empty(), str_at(prop, "$ref")) {
            let (d, n) = self.target(doc, r)?;
            doc_text = description(self.schema(d, &n)?);
        }
        let mut notes = vec![format!("Wire name `{wire}`.")];
        notes.extend(constraints(prop));
        if let Some(items) = prop.get("items") {
            for c in constraints(items) {
                notes.push(format!("Each item: {}", lower_first(&c)));
            }
        }
        let doc_text = if doc_text.is_empty() {
            notes.join(" ")
        } else {
            format!("{doc_text}\n\n{}", notes.join(" "))
        };
        Ok(Field {
            wire: wire.to_owned(),
            rust,
            ty,
            required: false,
            doc: doc_text,
            empty_is_none: bool_at(prop, "x-fse-empty-is-none"),
            deprecated: bool_at(prop, "deprecated"),
            personal: bool_at(prop, "x-fse-personal"),
        })
    }

    fn ty(&self, doc: Doc, prop: &Value) -> anyhow::Result<Ty> {
        if let Some(r) = str_at(prop, "$ref") {
            let (d, name) = self.target(doc, r)?;
            let target = self.schema(d, &name)?;
            if let Some(path) = str_at(target, "x-rust-type") {
                return Ok(Ty::Path(path.to_owned()));
            }
            return match self.kind(d, target)? {
                Kind::Table | Kind::Struct => Ok(Ty::Named(name)),
                Kind::Skip => bail!("$ref to {name}, which has no Rust type"),
            };
        }
        if prop.get("enum").is_some() {
            bail!("inline enumerations are not allowed: make it a named schema");
        }
        if let Some(path) = str_at(prop, "x-rust-type") {
            return Ok(Ty::Path(path.to_owned()));
        }
        match str_at(prop, "type") {
            Some("string") => Ok(Ty::String),
            Some("boolean") => Ok(Ty::Bool),
            Some("integer") => {
                let min = prop.get("minimum").and_then(Value::as_i64);
                let max = prop.get("maximum").and_then(Value::as_i64);
                Ok(match (min, max, str_at(prop, "format")) {
                    (Some(lo), Some(hi), _) if lo >= 0 && hi <= i64::from(u16::MAX) => Ty::U16,
                    (Some(lo), _, _) if lo >= 0 => Ty::U64,
                    (_, _, Some("int32")) => Ty::I32,
                    _ => Ty::I64,
                })
            }
            Some("array") => {
                let items = prop
                    .get("items")
                    .ok_or_else(|| anyhow!("array without items"))?;
                Ok(Ty::Vec(Box::new(self.ty(doc, items)?)))
            }
            other => bail!("unsupported property type {other:?}"),
        }
    }

    fn operations(&self) -> anyhow::Result<Vec<Operation>> {
        let paths = at(self.api, &["paths"])
            .and_then(Value::as_mapping)
            .ok_or_else(|| anyhow!("no paths"))?;
        let global_security = self.api.get("security");
        let mut out = Vec::new();
        for (path, item) in paths {
            let path = path
                .as_str()
                .ok_or_else(|| anyhow!("path {path:?} is not a string"))?;
            let provider_side = item.get("servers").is_some();
            for method in ["get", "put", "post", "delete", "patch"] {
                let Some(op) = item.get(method) else { continue };
                let what = || format!("{} {path}", method.to_uppercase());
                out.push(
                    self.operation(path, method, op, provider_side, global_security)
                        .with_context(what)?,
                );
            }
        }
        Ok(out)
    }

    fn operation(
        &self,
        path: &str,
        method: &str,
        op: &Value,
        provider_side: bool,
        global_security: Option<&Value>,
    ) -> anyhow::Result<Operation> {
        let id = str_at(op, "operationId")
            .ok_or_else(|| anyhow!("no operationId"))?
            .to_owned();
        let summary = str_at(op, "summary").unwrap_or_default().trim().to_owned();
        let body = match op.get("requestBody").and_then(|b| b.get("content")) {
            None => Body::None,
            Some(content) => {
                if let Some(form) = content.get("multipart/form-data") {
                    let (d, form) = self.target(Doc::Api, ref_of(form.get("schema"))?)?;
                    let part = at(self.schema(d, &form)?, &["properties", "requestBody"])
                        .ok_or_else(|| anyhow!("form {form} has no requestBody part"))?;
                    Body::Multipart(self.target(Doc::Api, ref_of(Some(part))?)?.1)
                } else if let Some(json) = content.get("application/json") {
                    Body::Json(self.target(Doc::Api, ref_of(json.get("schema"))?)?.1)
                } else {
                    bail!("request bodies must be multipart/form-data or application/json");
                }
            }
        };
        let mut success = Vec::new();
        if let Some(responses) = op.get("responses").and_then(Value::as_mapping) {
            for (code, _) in responses {
                let code = code
                    .as_str()
                    .map(str::to_owned)
                    .or_else(|| code.as_u64().map(|n| n.to_string()));
                if let Some(n) = code
                    .and_then(|c| c.parse::<u16>().ok())
                    .filter(|n| (200..300).contains(n))
                {
                    success.push(n);
                }
            }
        }
        if success.is_empty() {
            bail!("no 2xx response");
        }
        let security = op.get("security").or(global_security);
        let schemes: Vec<&str> = security
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(Value::as_mapping)
            .flat_map(Mapping::keys)
            .filter_map(Value::as_str)
            .collect();
        let mut callback = false;
        for param in op
            .get("parameters")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            let param = match str_at(param, "$ref") {
                Some(r) => {
                    let name = r
                        .strip_prefix("#/components/parameters/")
                        .ok_or_else(|| anyhow!("parameter $ref {r:?}"))?;
                    at(self.api, &["components", "parameters", name])
                        .ok_or_else(|| anyhow!("no parameter {name}"))?
                }
                None => param,
            };
            if str_at(param, "name") == Some("X-Callback-Url") {
                callback = true;
            }
        }
        Ok(Operation {
            id,
            method: method.to_uppercase(),
            path: path.to_owned(),
            summary,
            body,
            success,
            action_ids: strings(op.get("x-fse-action-id"))?,
            purposes: strings(op.get("x-fse-purpose-of-use"))?,
            bearer: schemes.contains(&"bearerAuth"),
            signature: schemes.contains(&"signatureJwt"),
            callback,
            provider_side,
        })
    }
}

fn read_table(name: &str, schema: &Value) -> anyhow::Result<Table> {
    let values = strings(schema.get("enum"))?;
    let names = strings(schema.get("x-enum-varnames"))?;
    let descriptions = strings(schema.get("x-enum-descriptions"))?;
    if !names.is_empty() && names.len() != values.len() {
        bail!(
            "x-enum-varnames has {} names for {} values",
            names.len(),
            values.len()
        );
    }
    if !descriptions.is_empty() && descriptions.len() != values.len() {
        bail!(
            "x-enum-descriptions has {} entries for {} values",
            descriptions.len(),
            values.len()
        );
    }
    let mut out: Vec<TableValue> = Vec::new();
    for (i, wire) in values.iter().enumerate() {
        let variant = names.get(i).cloned().unwrap_or_else(|| upper_camel(wire));
        if !is_identifier(&variant) || variant == "Other" {
            bail!(
                "value {wire:?} needs an x-enum-varnames entry ({variant:?} is not a usable variant name)"
            );
        }
        if out.iter().any(|v| v.variant == variant || &v.wire == wire) {
            bail!("value {wire:?} (variant {variant}) is listed twice");
        }
        let description = descriptions
            .get(i)
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty());
        out.push(TableValue {
            wire: wire.clone(),
            variant,
            description,
        });
    }
    Ok(Table {
        name: name.to_owned(),
        doc: description(schema),
        values: out,
    })
}

fn ref_of(schema: Option<&Value>) -> anyhow::Result<&str> {
    schema
        .and_then(|s| str_at(s, "$ref"))
        .ok_or_else(|| anyhow!("expected a $ref to a named schema"))
}

/// The value at a path of map keys.
pub fn at<'v>(value: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(value, |v, key| v.get(*key))
}

fn str_at<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str)
}

fn bool_at(value: &Value, key: &str) -> bool {
    value.get(key).and_then(Value::as_bool) == Some(true)
}

fn strings(value: Option<&Value>) -> anyhow::Result<Vec<String>> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    value
        .as_sequence()
        .ok_or_else(|| anyhow!("expected a list"))?
        .iter()
        .map(|v| match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(anyhow!("list entry {other:?} is not a scalar")),
        })
        .collect()
}

fn description(schema: &Value) -> String {
    str_at(schema, "description")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// The constraints of a schema, as sentences for documentation.
fn constraints(schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let num = |key| schema.get(key).and_then(Value::as_u64);
    match (num("minLength"), num("maxLength")) {
        (Some(lo), Some(hi)) if lo > 0 => out.push(format!("{lo} to {hi} characters.")),
        (_, Some(hi)) => out.push(format!("At most {hi} characters.")),
        (Some(1), None) => out.push("Not empty.".to_owned()),
        (Some(lo), None) if lo > 0 => out.push(format!("At least {lo} characters.")),
        _ => {}
    }
    match (num("minItems"), num("maxItems")) {
        (Some(lo), Some(hi)) if lo > 0 => out.push(format!("{lo} to {hi} items.")),
        (_, Some(hi)) => out.push(format!("At most {hi} items.")),
        _ => {}
    }
    if let Some(p) = str_at(schema, "pattern") {
        out.push(format!("Pattern `{p}`."));
    }
    out
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `traceID` → `trace_id`, `conservazioneANorma` → `conservazione_a_norma`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).and_then(|p| chars.get(p));
            let next = chars.get(i + 1);
            let boundary = match prev {
                None => false,
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_uppercase() => next.is_some_and(|n| n.is_lowercase()),
                _ => false,
            };
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else if c.is_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    out
}

/// `SEND_TO_INI` → `SendToIni`, `ACCESS UPDATE` → `AccessUpdate`,
/// `validateFhir` → `ValidateFhir`.
pub fn upper_camel(value: &str) -> String {
    let mut out = String::new();
    for piece in value
        .split(|c: char| !c.is_alphanumeric())
        .filter(|p| !p.is_empty())
    {
        let all_upper = piece.chars().all(|c| !c.is_lowercase());
        let mut chars = piece.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            if all_upper {
                out.extend(chars.flat_map(char::to_lowercase));
            } else {
                out.extend(chars);
            }
        }
    }
    out
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_keyword(name: &str) -> bool {
    matches!(
        name,
        "as" | "break"
            | "const"
            | "continue"
            | "crate"
            | "else"
            | "enum"
            | "extern"
            | "false"
            | "fn"
            | "for"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "pub"
            | "ref"
            | "return"
            | "self"
            | "Self"
            | "static"
            | "struct"
            | "super"
            | "trait"
            | "true"
            | "type"
            | "unsafe"
            | "use"
            | "where"
            | "while"
            | "async"
            | "await"
            | "dyn"
            | "abstract"
            | "become"
            | "box"
            | "do"
            | "final"
            | "macro"
            | "override"
            | "priv"
            | "typeof"
            | "unsized"
            | "virtual"
            | "yield"
            | "try"
            | "gen"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_splits_words_and_acronyms() {
        assert_eq!(snake_case("traceID"), "trace_id");
        assert_eq!(snake_case("workflowInstanceId"), "workflow_instance_id");
        assert_eq!(snake_case("conservazioneANorma"), "conservazione_a_norma");
        assert_eq!(snake_case("subject_role"), "subject_role");
        assert_eq!(snake_case("X-Callback-Url"), "x_callback_url");
    }

    #[test]
    fn upper_camel_builds_variant_names() {
        assert_eq!(upper_camel("SEND_TO_INI"), "SendToIni");
        assert_eq!(upper_camel("ACCESS UPDATE"), "AccessUpdate");
        assert_eq!(upper_camel("Sistema_TS"), "SistemaTs");
        assert_eq!(upper_camel("validateFhir"), "ValidateFhir");
        assert_eq!(upper_camel("AD_PSC001"), "AdPsc001");
    }

    fn yaml(text: &str) -> Value {
        serde_norway::from_str(text).expect("test YAML parses")
    }

    const EMPTY_CLAIMS: &str = "$defs: {}";

    #[test]
    fn refuses_inline_enumerations() {
        let api = yaml(
            "paths: {}\ncomponents:\n  schemas:\n    A:\n      type: object\n      properties:\n        x:\n          type: string\n          enum: [a, b]\n",
        );
        let err = read(&api, &yaml(EMPTY_CLAIMS))
            .expect_err("inline enum")
            .to_string();
        assert!(format!("{err:?}").contains("components/schemas/A"), "{err}");
    }

    #[test]
    fn refuses_mismatched_enum_extensions() {
        let api = yaml(
            "paths: {}\ncomponents:\n  schemas:\n    T:\n      type: string\n      enum: [a, b]\n      x-enum-descriptions: [one]\n",
        );
        let err = format!(
            "{:#}",
            read(&api, &yaml(EMPTY_CLAIMS)).expect_err("mismatch")
        );
        assert!(err.contains("1 entries for 2 values"), "{err}");
    }

    #[test]
    fn refuses_values_without_a_variant_name() {
        let api = yaml(
            "paths: {}\ncomponents:\n  schemas:\n    T:\n      type: string\n      enum: [\"090\"]\n",
        );
        let err = format!("{:#}", read(&api, &yaml(EMPTY_CLAIMS)).expect_err("digit"));
        assert!(err.contains("x-enum-varnames"), "{err}");
    }

    #[test]
    fn merges_mixins_and_marks_required() {
        let api = yaml(
            "paths: {}\ncomponents:\n  schemas:\n    M:\n      type: object\n      x-fse-mixin: true\n      required: [a]\n      properties:\n        a: {type: string}\n    S:\n      type: object\n      unevaluatedProperties: false\n      allOf:\n        - $ref: \"#/components/schemas/M\"\n      properties:\n        bB: {type: integer, minimum: 0}\n",
        );
        let model = read(&api, &yaml(EMPTY_CLAIMS)).expect("reads");
        assert_eq!(
            model.api_structs.len(),
            1,
            "the mixin has no type of its own"
        );
        let s = &model.api_structs[0];
        assert!(s.closed);
        assert_eq!(s.fields.len(), 2);
        assert!(s.fields[0].required);
        assert_eq!(s.fields[1].rust, "b_b");
        assert_eq!(s.fields[1].ty, Ty::U64);
        assert!(!s.fields[1].required);
    }
}
