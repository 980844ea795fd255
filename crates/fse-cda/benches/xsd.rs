//! The XSD stage over the reference corpus.
//!
//! `cargo bench -p fse-cda --bench xsd`. Needs the corpus (`FSE_CORPUS`,
//! default `../shared/corpus`); without it, prints a line and measures
//! nothing. libxml2's time on the same documents comes from
//! `scripts/xsd_bench/lxml_xsd.py`, run right after.
//!
//! - `xsd/corpus`: `xsd::validate` over every document of `validation/`
//!   and `cda/`, parsed beforehand; the throughput line gives documents
//!   per second, its inverse the mean time per document.
//! - `xsd/sample/<TYPE>`: each official sample alone.
//! - `xsd/parse_and_validate/corpus`: parsing included.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fse_cda::xml::Document;
use fse_cda::xsd;

fn corpus() -> Option<PathBuf> {
    let dir = match std::env::var_os("FSE_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    };
    dir.is_dir().then_some(dir)
}

fn xml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|r| r.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p: &PathBuf| p.extension().is_some_and(|x| x == "xml"));
    files.sort();
    files
}

fn benches(c: &mut Criterion) {
    let Some(corpus) = corpus() else {
        eprintln!("xsd bench: skipped, corpus not found (set FSE_CORPUS)");
        return;
    };
    let mut sources: Vec<(String, Vec<u8>)> = Vec::new();
    for dir in ["validation/docs", "cda"] {
        for file in xml_files(&corpus.join(dir)) {
            let name = file.file_stem().unwrap().to_string_lossy().into_owned();
            sources.push((name, std::fs::read(&file).unwrap()));
        }
    }
    // Only the documents whose typeId selects a set: the others stop
    // before any XSD work.
    let docs: Vec<(String, Document)> = sources
        .iter()
        .filter_map(|(name, bytes)| {
            let doc = Document::parse(bytes).ok()?;
            xsd::validate(&doc).ok()?;
            Some((name.clone(), doc))
        })
        .collect();
    let bytes: Vec<&[u8]> = sources.iter().map(|(_, b)| b.as_slice()).collect();

    let mut group = c.benchmark_group("xsd");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(docs.len() as u64));
    group.bench_function("corpus", |b| {
        b.iter(|| {
            for (_, doc) in &docs {
                black_box(xsd::validate(doc).unwrap());
            }
        });
    });
    group.throughput(Throughput::Elements(bytes.len() as u64));
    group.bench_function("parse_and_validate/corpus", |b| {
        b.iter(|| {
            for source in &bytes {
                if let Ok(doc) = Document::parse(source) {
                    let _ = black_box(xsd::validate(&doc));
                }
            }
        });
    });
    group.throughput(Throughput::Elements(1));
    for sample in [
        "LAB",
        "LDO",
        "PSS",
        "RAD",
        "RAP",
        "RSA",
        "VPS",
        "CERT_VACC",
        "SING_VACC",
    ] {
        if let Some((_, doc)) = docs.iter().rev().find(|(name, _)| name == sample) {
            group.bench_function(format!("sample/{sample}"), |b| {
                b.iter(|| black_box(xsd::validate(doc).unwrap()))
            });
        }
    }
    group.finish();
}

criterion_group!(xsd_benches, benches);
criterion_main!(xsd_benches);
