//! Faults: 200 publications (validate-and-create, the CART way) through
//! `fse sim` with 20% 503 and 5% accepted-then-timed-out. Every document
//! must end published exactly once, or be reported uncertain with what is
//! needed to trace it (X-Cart-id, time, document id, attachment hash) and
//! never sent again; none may be published twice.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::*;
use fse_transport::journal::JournalQuery;
use fse_transport::{CallContext, DocumentUpload, Error};
use serde_json::{Value, json};

const DOCUMENTS: usize = 200;
const CONCURRENCY: usize = 8;

#[derive(Debug)]
enum End {
    Published {
        attempts: u32,
    },
    Uncertain {
        cart_id: Option<String>,
        reason: String,
        attempts: u32,
    },
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_publications_under_503_and_accepted_timeouts() {
    let plan_dir = tempfile::tempdir().expect("tmp");
    let plan = write(
        plan_dir.path(),
        "plan.toml",
        br#"
seed = 20260526
[[fault]]
operations = ["validate-and-create"]
kind = "503"
probability = 0.20
retry_after = 0
[[fault]]
operations = ["validate-and-create"]
kind = "accepted-timeout"
probability = 0.05
"#,
    );
    let sim = SimProcess::start(&["--faults", &plan]);
    // Short backoffs: the plan asks for Retry-After 0.
    let mut config = std::fs::read_to_string(sim.config()).expect("fse.toml");
    config.push_str("\n[retry]\nmax_attempts = 4\ninitial_backoff_ms = 5\nmax_backoff_ms = 20\n");
    std::fs::write(sim.config(), config).expect("fse.toml");
    let client = Arc::new(sim.client());

    // Documents, built, rendered and signed beforehand.
    let pki = Arc::new(sim.pki.clone());
    let mut docs = Vec::new();
    for chunk in (0..DOCUMENTS).collect::<Vec<_>>().chunks(DOCUMENTS / 4) {
        let chunk = chunk.to_vec();
        let pki = pki.clone();
        docs.push(tokio::task::spawn_blocking(move || {
            chunk
                .into_iter()
                .map(|i| {
                    let lab = lab(&format!("E2E.FAULT.{i:03}"));
                    let pdf = signed_pdf(&pki, &lab.cda);
                    (lab.id, lab.patient, pdf)
                })
                .collect::<Vec<_>>()
        }));
    }
    let mut documents = Vec::new();
    for d in docs {
        documents.extend(d.await.expect("build"));
    }

    let semaphore = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut tasks = Vec::new();
    for (id, patient, pdf) in documents {
        let client = client.clone();
        let semaphore = semaphore.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = semaphore.acquire().await.expect("permit");
            let ctx = CallContext {
                person_id: Some(patient),
                ..CallContext::default()
            };
            let upload = DocumentUpload::new(pdf, &publication_body(&id)).expect("upload");
            let mut attempts = 0;
            loop {
                attempts += 1;
                match client.validate_and_create(&upload, &ctx).await {
                    Ok(r) => {
                        assert_eq!(r.meta.status, 202);
                        return (id, End::Published { attempts });
                    }
                    // Uncertain: never re-sent; kept for reconciliation.
                    Err(Error::Uncertain(u)) => {
                        assert_eq!(u.document_id.as_deref(), Some(id.as_str()));
                        assert!(u.attachment_hash.is_some());
                        return (
                            id,
                            End::Uncertain {
                                cart_id: u.cart_id.clone(),
                                reason: u.reason.clone(),
                                attempts,
                            },
                        );
                    }
                    // A 503 that outlasted the client's retries was never
                    // delivered: sending again later is safe.
                    Err(Error::Frontier(r)) if r.meta.status == 503 && attempts < 10 => {}
                    Err(e) => panic!("{id}: unexpected {e}"),
                }
            }
        }));
    }
    let mut ends = HashMap::new();
    for t in tasks {
        let (id, end) = t.await.expect("task");
        ends.insert(id, end);
    }

    let held = sim.inspect("documents").await;
    let held: HashMap<String, Value> = held
        .as_array()
        .expect("documents")
        .iter()
        .map(|d| (d["id"].as_str().unwrap_or_default().to_owned(), d.clone()))
        .collect();
    let calls = sim.inspect("calls").await;
    let calls = calls.as_array().expect("calls").clone();
    let fault_count = |f: &str| calls.iter().filter(|c| c["fault"] == json!(f)).count();

    let mut published = 0;
    let mut uncertain = 0;
    for (id, end) in &ends {
        let doc = held.get(id);
        let times = doc.map_or(0, |d| d["publications"].as_u64().unwrap_or(0));
        assert!(times <= 1, "{id} published {times} times");
        match end {
            End::Published { .. } => {
                published += 1;
                assert_eq!(times, 1, "{id} reported published but not held");
            }
            End::Uncertain {
                cart_id, reason, ..
            } => {
                uncertain += 1;
                let cart = cart_id
                    .as_deref()
                    .unwrap_or_else(|| panic!("{id}: uncertain without X-Cart-id ({reason})"));
                let call = calls
                    .iter()
                    .find(|c| c["cart_id"] == json!(cart))
                    .expect("the simulator received it");
                assert_eq!(call["fault"], json!("accepted-timeout"));
                // Accepted, then timed out: the Gateway holds it once.
                assert_eq!(times, 1, "{id}");
            }
        }
    }
    assert_eq!(published + uncertain, DOCUMENTS);

    // Every response's X-Cart-id is in the journal, and the chain holds.
    let entries = client
        .journal()
        .query(&JournalQuery::default())
        .expect("journal");
    assert!(client.journal().verify().expect("verify").is_intact());
    for call in &calls {
        let cart = call["cart_id"].as_str().expect("cart id");
        assert!(
            entries
                .iter()
                .any(|e| e.record.cart_id.as_deref() == Some(cart)),
            "{cart} missing from the journal"
        );
    }

    let attempts: u32 = ends
        .values()
        .map(|e| match e {
            End::Published { attempts } | End::Uncertain { attempts, .. } => *attempts,
        })
        .sum();
    println!(
        "fault run: {DOCUMENTS} documents, {published} published once, {uncertain} uncertain (accepted then timed out, each held once and traced by X-Cart-id), 0 published twice; \
         {} calls received ({} answered 503, {} accepted then 504), {} journal entries, {attempts} publish calls by the test loop",
        calls.len(),
        fault_count("503"),
        fault_count("accepted-timeout"),
        entries.len(),
    );
    assert!(
        fault_count("503") > 0 && uncertain > 0,
        "the plan injected faults"
    );
}

/// The same faults through the `fse` binary: a 503 retried, then an
/// accepted-then-timed-out create reported uncertain (exit 3) with its
/// X-Cart-id, and reconciled through the status as applied.
#[test]
fn fse_gw_publish_retries_a_503_and_reports_an_uncertain_create() {
    let sim = SimProcess::start(&[
        "--fault",
        "create:503:#1",
        "--fault",
        "create:accepted-timeout:#2",
    ]);
    let mut config = std::fs::read_to_string(sim.config()).expect("fse.toml");
    config.push_str("\n[retry]\ninitial_backoff_ms = 5\nmax_backoff_ms = 20\n");
    std::fs::write(sim.config(), config).expect("fse.toml");
    let lab = lab("E2E.GWFAULT.1");
    let cda = sim.file("lab.xml", lab.cda.as_bytes());
    let meta = sim.file(
        "meta.json",
        publication_body(&lab.id).to_string().as_bytes(),
    );
    let (code, out) = sim.gw(&[
        "publish",
        "--cda",
        &cda,
        "--metadata",
        &meta,
        "--skip-local-validation",
    ]);
    assert_eq!(code, 3, "uncertain: {out}");
    let text = out.to_string();
    assert!(text.contains("uncertain"), "{out}");
    assert_eq!(
        out["reconciliation"]["verdict"],
        json!("applied"),
        "the status shows it published: {out}"
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let calls = rt.block_on(sim.inspect("calls"));
    let creates: Vec<&Value> = calls
        .as_array()
        .expect("calls")
        .iter()
        .filter(|c| c["operation"] == json!("create"))
        .collect();
    assert_eq!(creates.len(), 2, "one 503, retried once: {calls}");
    assert_eq!(creates[0]["fault"], json!("503"));
    assert_eq!(creates[1]["fault"], json!("accepted-timeout"));
    let timed_out_cart = creates[1]["cart_id"].as_str().expect("cart id");
    assert!(
        text.contains(timed_out_cart),
        "the uncertain outcome names its X-Cart-id: {out}"
    );
    let docs = rt.block_on(sim.inspect("documents"));
    assert_eq!(docs[0]["publications"], json!(1), "held once, not re-sent");
}
