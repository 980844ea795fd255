//! Whole-document validation over the reference corpus, and loading the
//! rules.
//!
//! `cargo bench -p fse-cda --bench validate`. Needs the corpus
//! (`FSE_CORPUS`, default `../shared/corpus`); without it, prints a line
//! and measures nothing.
//!
//! - `load/schematrons`: reading and compiling the 22 official schematrons.
//! - `load/rules_dir`: the same plus the terminology, i.e. `Validator::from_rules_dir`.
//! - `validate/corpus`: `Validator::validate` (parse, structure, schematron,
//!   vocabulary) over every document of `validation/` and `cda/`; the
//!   throughput line gives documents per second, its inverse the mean time
//!   per document.
//! - `validate/sample/<TYPE>`: each official sample alone.
//! - `stage/parse`, `stage/schematron`: the parser alone and the schematron
//!   alone (documents parsed beforehand) over the corpus.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fse_cda::Validator;
use fse_cda::schematron::SchematronSet;
use fse_cda::xml::Document;

fn corpus() -> Option<PathBuf> {
    let dir = match std::env::var_os("FSE_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    };
    dir.is_dir().then_some(dir)
}

fn xml_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|r| r.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p: &PathBuf| p.extension().is_some_and(|x| x == "xml"));
    files.sort();
    files
}

fn benches(c: &mut Criterion) {
    let Some(corpus) = corpus() else {
        eprintln!("validate bench: skipped, corpus not found (set FSE_CORPUS)");
        return;
    };
    let rules = corpus.join("catalogs");

    let mut load = c.benchmark_group("load");
    load.sample_size(20)
        .measurement_time(Duration::from_secs(10));
    load.bench_function("schematrons", |b| {
        b.iter(|| black_box(SchematronSet::load_dir(&rules.join("schematron")).unwrap()))
    });
    load.bench_function("rules_dir", |b| {
        b.iter(|| black_box(Validator::from_rules_dir(&rules).unwrap()))
    });
    load.finish();

    let validator = Validator::from_rules_dir(&rules).unwrap();
    let mut docs: Vec<(String, Vec<u8>)> = Vec::new();
    for dir in [corpus.join("validation/docs"), corpus.join("cda")] {
        for f in xml_files(&dir) {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            docs.push((name, std::fs::read(&f).unwrap()));
        }
    }

    let mut group = c.benchmark_group("validate");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(docs.len() as u64));
    group.bench_function("corpus", |b| {
        b.iter(|| {
            for (_, bytes) in &docs {
                black_box(validator.validate(bytes));
            }
        })
    });
    group.finish();

    let mut samples = c.benchmark_group("validate/sample");
    samples
        .sample_size(50)
        .measurement_time(Duration::from_secs(3));
    for f in xml_files(&corpus.join("cda")) {
        let bytes = std::fs::read(&f).unwrap();
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        samples.bench_function(name, |b| b.iter(|| black_box(validator.validate(&bytes))));
    }
    samples.finish();

    let parsed: Vec<Document> = docs
        .iter()
        .filter_map(|(_, b)| Document::parse(b).ok())
        .collect();
    let set = validator.schematrons().unwrap();
    let mut stage = c.benchmark_group("stage");
    stage
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    stage.throughput(Throughput::Elements(docs.len() as u64));
    stage.bench_function("parse", |b| {
        b.iter(|| {
            for (_, bytes) in &docs {
                black_box(Document::parse(bytes).ok());
            }
        })
    });
    stage.throughput(Throughput::Elements(parsed.len() as u64));
    stage.bench_function("schematron", |b| {
        b.iter(|| {
            for doc in &parsed {
                let root = fse_cda::validator::first_template_id_root(doc).unwrap_or("");
                if let Some(s) = set.select(root) {
                    black_box(s.run(doc));
                }
            }
        })
    });
    stage.finish();
}

criterion_group!(validate, benches);
criterion_main!(validate);
