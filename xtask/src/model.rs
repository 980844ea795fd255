//! Generates `fse-model`'s API types from `schemas/`: the code tables, the
//! request and response bodies, the JWT claims and the operations.
//!
//! Reading is in `model/read.rs` (schema → model, refusing what it does not
//! understand), writing in `model/emit.rs` (model → Rust tokens); the
//! tokens are printed by `codegen::rust_file`, so the output depends on
//! nothing but the schemas and the locked crate versions.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_norway::Value;

use crate::codegen::{Output, rust_file};

mod emit;
mod read;

/// Where the generated files go, relative to the repository root.
pub const OUT_DIR: &str = "crates/fse-model/src/generated";

/// The schemas read, relative to the repository root.
pub const API_SCHEMA: &str = "schemas/fse-gateway.openapi.yaml";
/// The JWT claims schema, relative to the repository root.
pub const CLAIMS_SCHEMA: &str = "schemas/fse-jwt-claims.schema.json";

/// Every file generated from `schemas/`.
pub fn generate(root: &Path) -> anyhow::Result<Vec<Output>> {
    let api = load(&root.join(API_SCHEMA))?;
    let claims = load(&root.join(CLAIMS_SCHEMA))?;
    let model = read::read(&api, &claims).context("reading the schemas")?;
    emit::check_operation_tables(&model)?;
    let out = |name: &str, content: String| Output {
        path: PathBuf::from(OUT_DIR).join(name),
        content,
    };
    Ok(vec![
        out("mod.rs", rust_file(mod_rs())?),
        out("tables.rs", rust_file(emit::tables(&model))?),
        out(
            "api.rs",
            rust_file(emit::structs(
                &model.api_structs,
                "The bodies of `schemas/fse-gateway.openapi.yaml`, field names in English, wire names as the\nGateway spells them.\n\nMethods beyond reading and writing live in `crate::api`.",
            ))?,
        ),
        out(
            "claims.rs",
            rust_file(emit::structs(
                &model.claim_structs,
                "The claims of the two JWTs, from `schemas/fse-jwt-claims.schema.json`.\n\nMethods beyond reading and writing live in `crate::claims`.",
            ))?,
        ),
        out("operations.rs", rust_file(emit::operations(&model))?),
    ])
}

fn mod_rs() -> proc_macro2::TokenStream {
    quote::quote! {
        //! Code generated from `schemas/` by `cargo xtask codegen`. The public
        //! paths are the hand-written modules that re-export it.
        pub mod api;
        pub mod claims;
        pub mod operations;
        pub mod tables;
    }
}

/// Reads a YAML (or JSON) file, keeping the order of its maps.
fn load(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_norway::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic() {
        let root = crate::codegen::repo_root();
        let first = generate(&root).expect("generates");
        let second = generate(&root).expect("generates");
        assert_eq!(first.len(), second.len());
        for (a, b) in first.iter().zip(&second) {
            assert_eq!(a.path, b.path);
            assert!(
                a.content == b.content,
                "{} differs between two runs",
                a.path.display()
            );
            assert!(
                a.content.starts_with(crate::codegen::HEADER),
                "{} lacks the header",
                a.path.display()
            );
        }
    }

    #[test]
    fn every_table_value_of_the_schema_is_generated() {
        let root = crate::codegen::repo_root();
        let api = load(&root.join(API_SCHEMA)).expect("schema");
        let outputs = generate(&root).expect("generates");
        let tables = outputs
            .iter()
            .find(|o| o.path.ends_with("tables.rs"))
            .expect("tables.rs");
        let schemas = read::at(&api, &["components", "schemas"])
            .and_then(Value::as_mapping)
            .expect("schemas");
        let mut seen = 0;
        for (_, schema) in schemas {
            for value in schema
                .get("enum")
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
            {
                let wire = value.as_str().expect("string values");
                assert!(
                    tables.content.contains(&format!("{wire:?} =>")),
                    "{wire} missing"
                );
                seen += 1;
            }
        }
        assert!(seen > 200, "only {seen} values");
    }
}
