//! Our schema against the national one: every operation of the national
//! OpenAPI (`gateway/swagger_gtw.yaml`, and the push notification of
//! `gateway/swagger_status.yaml`) must be in `schemas/fse-gateway.openapi.yaml`,
//! with every property of its request and response bodies (nested ones
//! included), every value of its enumerations, every path parameter, and
//! every property the national request bodies require required in ours too.
//! Deliberate differences are listed in [`ALLOWED`], each with its reason.

use std::collections::BTreeSet;
use std::path::Path;

use serde_norway::Value;

/// Differences we make on purpose: (where, why). `where` is the text a
/// difference is reported with.
const ALLOWED: &[(&str, &str)] = &[
    (
        "operation POST /fhir-documents",
        "not in the specification: the FHIR publication path of the national code, which fse2 does not use (it publishes CDA2 in PDF)",
    ),
    (
        "operation PUT /fhir-documents/{idDoc}",
        "not in the specification: the FHIR replacement path of the national code, which fse2 does not use",
    ),
];

/// One national document and its name in reports.
struct Schema<'a> {
    root: &'a Value,
}

impl<'a> Schema<'a> {
    /// Follows `$ref`s within the document.
    fn resolve(&self, mut value: &'a Value) -> &'a Value {
        for _ in 0..16 {
            let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
                return value;
            };
            let Some(pointer) = reference.strip_prefix("#/") else {
                return value;
            };
            let mut target = self.root;
            for key in pointer.split('/') {
                match target.get(key) {
                    Some(next) => target = next,
                    None => return value,
                }
            }
            value = target;
        }
        value
    }

    /// The properties of an object schema, `allOf` members merged, in
    /// order, each resolved.
    fn properties(&self, schema: &'a Value) -> Vec<(String, &'a Value)> {
        let schema = self.resolve(schema);
        let mut out = Vec::new();
        for part in schema
            .get("allOf")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            out.extend(self.properties(part));
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_mapping) {
            for (name, prop) in props {
                if let Some(name) = name.as_str() {
                    out.push((name.to_owned(), prop));
                }
            }
        }
        out
    }

    /// The names an object schema requires, `allOf` members merged.
    fn required(&self, schema: &'a Value) -> BTreeSet<String> {
        let schema = self.resolve(schema);
        let mut out = BTreeSet::new();
        for part in schema
            .get("allOf")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            out.extend(self.required(part));
        }
        for name in schema
            .get("required")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            if let Some(name) = name.as_str() {
                out.insert(name.to_owned());
            }
        }
        out
    }

    /// The enumeration of a property (or of its items), if any.
    fn enumeration(&self, prop: &'a Value) -> Option<BTreeSet<String>> {
        let prop = self.resolve(prop);
        let values = match prop.get("enum") {
            Some(values) => values,
            None => return prop.get("items").and_then(|items| self.enumeration(items)),
        };
        Some(
            values
                .as_sequence()?
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        )
    }

    /// The object schema of an array's items, or of an object property.
    fn nested(&self, prop: &'a Value) -> Option<&'a Value> {
        let prop = self.resolve(prop);
        let inner = match prop.get("items") {
            Some(items) => self.resolve(items),
            None => prop,
        };
        (!self.properties(inner).is_empty()).then_some(inner)
    }

    /// The operations: (method, path, operation).
    fn operations(&self) -> Vec<(String, String, &'a Value)> {
        let mut out = Vec::new();
        for (path, item) in self
            .root
            .get("paths")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
        {
            for method in ["get", "put", "post", "delete", "patch"] {
                if let (Some(path), Some(op)) = (path.as_str(), item.get(method)) {
                    out.push((method.to_uppercase(), path.to_owned(), op));
                }
            }
        }
        out
    }

    /// The first schema of a request body or response, whatever the media
    /// type.
    fn body_schema(&self, holder: &'a Value) -> Option<&'a Value> {
        let holder = self.resolve(holder);
        let content = holder.get("content")?.as_mapping()?;
        content.values().find_map(|media| media.get("schema"))
    }

    /// The path parameters of an operation.
    fn parameters(&self, op: &'a Value) -> BTreeSet<String> {
        op.get("parameters")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .map(|p| self.resolve(p))
            .filter(|p| p.get("in").and_then(Value::as_str) == Some("path"))
            .filter_map(|p| p.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect()
    }
}

/// Compares the properties of a national schema with ours, recursively.
fn compare_objects(
    national: &Schema,
    theirs: &Value,
    ours_doc: &Schema,
    ours: &Value,
    at: &str,
    depth: usize,
    out: &mut Vec<String>,
) {
    if depth > 4 {
        return;
    }
    let our_props = ours_doc.properties(ours);
    for (name, their_prop) in national.properties(theirs) {
        let here = format!("{at}.{name}");
        let Some((_, our_prop)) = our_props.iter().find(|(n, _)| *n == name) else {
            out.push(format!("property {here}"));
            continue;
        };
        if let Some(their_values) = national.enumeration(their_prop) {
            let our_values = ours_doc.enumeration(our_prop).unwrap_or_default();
            for value in their_values.difference(&our_values) {
                out.push(format!("enum value {here} = {value}"));
            }
        }
        if let (Some(their_inner), Some(our_inner)) =
            (national.nested(their_prop), ours_doc.nested(our_prop))
        {
            compare_objects(
                national,
                their_inner,
                ours_doc,
                our_inner,
                &here,
                depth + 1,
                out,
            );
        } else if national.nested(their_prop).is_some() {
            out.push(format!("object shape of {here}"));
        }
    }
}

/// The JSON part of a multipart body, or the body itself.
fn json_part<'a>(doc: &Schema<'a>, body: &'a Value) -> &'a Value {
    doc.properties(body)
        .into_iter()
        .find(|(n, _)| n == "requestBody")
        .map_or(body, |(_, p)| p)
}

/// Every difference between a national document and ours, as text.
fn differences(national: &Value, ours: &Value) -> Vec<String> {
    let theirs = Schema { root: national };
    let ours_doc = Schema { root: ours };
    let our_ops = ours_doc.operations();
    let mut out = Vec::new();
    for (method, path, their_op) in theirs.operations() {
        let Some((_, _, our_op)) = our_ops.iter().find(|(m, p, _)| *m == method && *p == path)
        else {
            out.push(format!("operation {method} {path}"));
            continue;
        };
        let at = format!("{method} {path}");
        for name in theirs
            .parameters(their_op)
            .difference(&ours_doc.parameters(our_op))
        {
            out.push(format!("path parameter {at} {name}"));
        }
        match (
            their_op
                .get("requestBody")
                .and_then(|b| theirs.body_schema(b)),
            our_op
                .get("requestBody")
                .and_then(|b| ours_doc.body_schema(b)),
        ) {
            (Some(their_body), Some(our_body)) => {
                let here = format!("{at} request");
                compare_objects(&theirs, their_body, &ours_doc, our_body, &here, 0, &mut out);
                // The JSON part of a multipart body, or the body itself.
                let (their_part, our_part) = (
                    json_part(&theirs, their_body),
                    json_part(&ours_doc, our_body),
                );
                let ours_required = ours_doc.required(our_part);
                for name in theirs.required(their_part).difference(&ours_required) {
                    out.push(format!("required {here}.{name}"));
                }
            }
            (Some(_), None) => out.push(format!("request body of {at}")),
            _ => {}
        }
        let our_responses = our_op.get("responses");
        for (code, their_response) in their_op
            .get("responses")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
        {
            let code = code
                .as_str()
                .map(str::to_owned)
                .or_else(|| code.as_u64().map(|n| n.to_string()))
                .unwrap_or_default();
            let Some(their_schema) = theirs.body_schema(their_response) else {
                continue;
            };
            let our_response =
                our_responses.and_then(|r| r.get(code.as_str()).or_else(|| r.get("default")));
            match our_response.and_then(|r| ours_doc.body_schema(r)) {
                Some(our_schema) => compare_objects(
                    &theirs,
                    their_schema,
                    &ours_doc,
                    our_schema,
                    &format!("{at} {code}"),
                    0,
                    &mut out,
                ),
                None => out.push(format!("response {at} {code}")),
            }
        }
    }
    out
}

fn load(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

fn ours() -> Value {
    load(&fse_tests::repo_root().join("schemas/fse-gateway.openapi.yaml"))
}

#[test]
fn our_schema_covers_the_national_one() {
    let Some(corpus) = fse_tests::corpus("our_schema_covers_the_national_one") else {
        return;
    };
    let ours = ours();
    let mut found = Vec::new();
    for file in ["gateway/swagger_gtw.yaml", "gateway/swagger_status.yaml"] {
        found.extend(differences(&load(&corpus.join(file)), &ours));
    }
    let unexpected: Vec<&String> = found
        .iter()
        .filter(|d| !ALLOWED.iter().any(|(a, _)| a == d))
        .collect();
    assert!(
        unexpected.is_empty(),
        "our schema lacks what the national one has:\n{unexpected:#?}"
    );
    let stale: Vec<&str> = ALLOWED
        .iter()
        .map(|(a, _)| *a)
        .filter(|a| !found.iter().any(|d| d == a))
        .collect();
    assert!(
        stale.is_empty(),
        "allowed differences that no longer occur (remove them): {stale:?}"
    );
}

#[test]
fn the_comparison_catches_what_is_missing() {
    let national: Value = serde_norway::from_str(
        r##"
paths:
  /a/{id}:
    post:
      parameters: [{name: id, in: path}]
      requestBody:
        content:
          multipart/form-data:
            schema:
              properties:
                requestBody: {$ref: "#/components/schemas/Req"}
                file: {type: string, format: binary}
      responses:
        "200": {content: {application/json: {schema: {$ref: "#/components/schemas/Res"}}}}
        "409": {content: {application/json: {schema: {properties: {code: {type: string}}}}}}
  /b:
    get: {responses: {}}
components:
  schemas:
    Req:
      required: [kind, name]
      properties:
        kind: {type: string, enum: [A, B]}
        name: {type: string}
    Res:
      properties:
        items: {type: array, items: {properties: {when: {type: string}, what: {type: string}}}}
"##,
    )
    .expect("national test YAML");
    let ours: Value = serde_norway::from_str(
        r##"
paths:
  /a/{id}:
    post:
      requestBody:
        content:
          multipart/form-data:
            schema:
              properties:
                requestBody: {$ref: "#/components/schemas/Req"}
                file: {type: string, format: binary}
      responses:
        "200": {content: {application/json: {schema: {properties: {items: {type: array, items: {$ref: "#/components/schemas/Item"}}}}}}}
components:
  schemas:
    Mixin:
      properties:
        kind: {$ref: "#/components/schemas/Kind"}
    Req:
      required: [kind]
      allOf: [{$ref: "#/components/schemas/Mixin"}]
    Kind: {type: string, enum: [A]}
    Item:
      properties:
        when: {type: string}
"##,
    )
    .expect("our test YAML");
    let found = differences(&national, &ours);
    let expected = [
        "path parameter POST /a/{id} id",
        "property POST /a/{id} request.requestBody.name",
        "enum value POST /a/{id} request.requestBody.kind = B",
        "required POST /a/{id} request.name",
        "property POST /a/{id} 200.items.what",
        "response POST /a/{id} 409",
        "operation GET /b",
    ];
    for e in expected {
        assert!(
            found.iter().any(|f| f == e),
            "{e:?} not reported; found {found:#?}"
        );
    }
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    assert!(
        differences(&national, &national).is_empty(),
        "a schema covers itself"
    );
}
