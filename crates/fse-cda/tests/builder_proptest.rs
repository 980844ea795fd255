//! Generated builder inputs of every type build into documents with no
//! schematron or vocabulary error under our validator and no XSD error
//! under the lxml oracle.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod builder_support;

use fse_cda::builder::{
    self, DocumentType, INTERPRETATIONS, MAIN_PROBLEMS, OUTCOMES, SPECIALTIES, TRIAGE_CODES,
};
use fse_model::FiscalCode;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

/// ICD-9-CM diagnoses present in the official terminology.
const DIAGNOSES: &[(&str, &str)] = &[
    ("401.9", "Ipertensione essenziale non specificata"),
    ("486", "Polmonite, agente non specificato"),
    ("786.50", "Dolore toracico non specificato"),
    ("780.6", "Febbre"),
    ("466.0", "Bronchite acuta"),
    ("599.0", "Infezione del sistema urinario"),
    ("824.8", "Frattura della caviglia"),
    ("250.00", "Diabete mellito tipo II"),
];
/// ICD-9-CM procedures present in the official terminology.
const PROCEDURES: &[(&str, &str)] = &[
    ("87.44", "Radiografia del torace di routine"),
    ("87.41", "TAC del torace"),
    ("88.76", "Ecografia addominale"),
    ("88.91", "RMN del cervello"),
    ("89.52", "Elettrocardiogramma"),
    ("89.7", "Visita generale"),
];
const ATC: &[(&str, &str)] = &[
    ("C09AA02", "Enalapril"),
    ("J01CA04", "Amoxicillina"),
    ("N02BE01", "Paracetamolo"),
    ("B01AC06", "Acido acetilsalicilico"),
];
const UNITS: &[&str] = &["mg/dL", "g/dL", "mmol/L", "10*3/uL", "%", "U/L", "1"];
const SPECIMENS: &[&str] = &["SER", "BLD", "UR", "PLAS", "STL"];
const OFFSETS: &[&str] = &["+0000", "+0100", "+0200", "-0500"];

fn pick<T: Clone + std::fmt::Debug + 'static>(items: &'static [T]) -> impl Strategy<Value = T> {
    prop::sample::select(items)
}

/// Free text with markup characters, accents and apostrophes.
fn text() -> impl Strategy<Value = String> {
    "[A-Za-zàèéìòù' &<>\"0-9.,]{1,30}".prop_filter("not blank", |s| !s.trim().is_empty())
}

fn name() -> impl Strategy<Value = Value> {
    (
        text(),
        text(),
        prop::option::of(pick(&["Dott.", "Dott.ssa", "Prof."])),
    )
        .prop_map(
            |(given, family, prefix)| json!({ "given": given, "family": family, "prefix": prefix }),
        )
}

fn fiscal_code() -> impl Strategy<Value = String> {
    (
        "[A-Z]{6}[0-9]{2}[ABCDEHLMPRST]",
        prop_oneof![1u32..=28, 41u32..=68],
        "[A-Z][0-9]{3}",
    )
        .prop_map(|(head, day, tail)| {
            FiscalCode::with_check_character(&format!("{head}{day:02}{tail}"))
                .unwrap()
                .as_str()
                .to_string()
        })
}

fn decimal() -> impl Strategy<Value = String> {
    (0u32..100_000, 0u32..3).prop_map(|(n, scale)| match scale {
        0 => n.to_string(),
        s => format!(
            "{}.{:0width$}",
            n / 10u32.pow(s),
            n % 10u32.pow(s),
            width = s as usize
        ),
    })
}

/// A timestamp with seconds and an offset, in one of the two forms the input accepts.
fn timestamp_parts() -> impl Strategy<Value = (String, &'static str)> {
    (
        2000u32..2031,
        1u32..13,
        1u32..29,
        0u32..24,
        0u32..60,
        0u32..60,
        pick(OFFSETS),
    )
        .prop_map(|(y, mo, d, h, mi, s, off)| {
            (format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}"), off)
        })
}

fn timestamp() -> impl Strategy<Value = String> {
    timestamp_parts().prop_map(|(digits, off)| format!("{digits}{off}"))
}

/// Two timestamps of the same form and offset, in order.
fn interval() -> impl Strategy<Value = (String, String)> {
    (timestamp_parts(), timestamp_parts()).prop_map(|((a, off), (b, _))| {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        (format!("{lo}{off}"), format!("{hi}{off}"))
    })
}

fn professional() -> impl Strategy<Value = Value> {
    (fiscal_code(), name()).prop_map(|(cf, name)| json!({ "fiscal_code": cf, "name": name }))
}

fn diagnosis() -> impl Strategy<Value = Value> {
    pick(DIAGNOSES)
        .prop_map(|(code, display)| json!({ "code": { "code": code, "display": display } }))
}

fn medication() -> impl Strategy<Value = Value> {
    (pick(ATC), decimal(), pick(UNITS), prop::option::of(text()), interval(), any::<bool>()).prop_map(
        |((code, display), dose, unit, instructions, (start, end), ends)| {
            json!({
                "drug": { "code": code, "system": "2.16.840.1.113883.6.73", "display": display },
                "dose": { "value": dose, "unit": unit },
                "route": { "code": "PO", "display": "Orale" },
                "instructions": instructions,
                "start": start,
                "end": if ends { Value::String(end) } else { Value::Null },
            })
        },
    )
}

fn lab_result() -> impl Strategy<Value = Value> {
    let value = prop_oneof![
        (decimal(), pick(UNITS)).prop_map(|(v, u)| json!({ "type": "PQ", "value": v, "unit": u })),
        text().prop_map(|t| json!({ "type": "ST", "text": t })),
        Just(
            json!({ "type": "CD", "code": "LA6576-8", "system": "2.16.840.1.113883.6.1", "display": "Positivo" })
        ),
    ];
    (
        "[0-9]{4,5}-[0-9]",
        text(),
        value,
        prop::option::of(pick(INTERPRETATIONS).prop_map(|(c, _)| c)),
        prop::option::of((decimal(), decimal())),
        prop::option::of(timestamp()),
    )
        .prop_map(|(code, display, value, interpretation, range, time)| {
            let numeric = value["type"] == "PQ";
            let range = range.map(|(a, b)| {
                let (lo, hi) = if a.parse::<f64>().unwrap() <= b.parse::<f64>().unwrap() {
                    (a, b)
                } else {
                    (b, a)
                };
                if numeric {
                    json!({ "low": lo, "high": hi })
                } else {
                    json!({ "text": "Assente" })
                }
            });
            json!({
                "test": { "code": code, "display": display },
                "value": value,
                "interpretation": interpretation,
                "reference_range": range,
                "time": time,
            })
        })
}

fn lab_body() -> impl Strategy<Value = Value> {
    let specialty = (
        pick(SPECIALTIES).prop_map(|(c, _)| c),
        prop::option::of(pick(SPECIMENS)),
        prop::collection::vec(lab_result(), 0..4),
        prop::collection::vec((text(), prop::collection::vec(lab_result(), 1..3)), 0..3),
        prop::option::of(text()),
        lab_result(),
    )
        .prop_map(|(code, specimen, mut results, batteries, comment, fallback)| {
            if results.is_empty() && batteries.is_empty() {
                results.push(fallback);
            }
            let batteries: Vec<Value> = batteries
                .into_iter()
                .map(|(display, results)| json!({ "code": { "code": "24331-1", "display": display }, "results": results }))
                .collect();
            json!({
                "code": code,
                "specimen": specimen.map(|s| json!({ "code": s })),
                "results": results,
                "batteries": batteries,
                "comment": comment,
            })
        });
    prop::collection::vec(specialty, 1..4).prop_map(|s| json!({ "specialties": s }))
}

fn reason() -> impl Strategy<Value = Value> {
    (text(), prop::option::of(pick(DIAGNOSES)))
        .prop_map(|(t, d)| json!({ "text": t, "diagnosis": d.map(|(c, n)| json!({ "code": c, "display": n })) }))
}

fn rad_body() -> impl Strategy<Value = Value> {
    let exam = (pick(PROCEDURES), timestamp(), prop::option::of(text()), prop::option::of(text()))
        .prop_map(|((c, n), t, details, dose)| json!({ "code": { "code": c, "display": n }, "time": t, "details": details, "dose": dose }));
    (
        prop::option::of(reason()),
        prop::option::of(text()),
        prop::collection::vec(exam, 1..3),
        text(),
        prop::option::of(text()),
        prop::option::of(text()),
    )
        .prop_map(
            |(reason, history, exams, report, conclusions, suggestions)| {
                json!({
                    "reason": reason,
                    "clinical_history": history,
                    "exams": exams,
                    "report": report,
                    "conclusions": conclusions,
                    "suggestions": suggestions,
                })
            },
        )
}

fn rsa_body() -> impl Strategy<Value = Value> {
    let procedure = (pick(PROCEDURES), timestamp())
        .prop_map(|((c, n), t)| json!({ "code": { "code": c, "display": n }, "time": t }));
    let performed = (pick(PROCEDURES), timestamp(), prop::collection::vec(procedure, 0..3))
        .prop_map(|((c, n), t, procs)| json!({ "code": { "code": c, "display": n }, "time": t, "procedures": procs }));
    let test = (pick(PROCEDURES), prop::option::of(timestamp()))
        .prop_map(|((c, n), t)| json!({ "code": { "code": c, "display": n }, "time": t }));
    (
        (
            prop::option::of(reason()),
            prop::option::of(text()),
            prop::option::of(text()),
        ),
        prop::collection::vec(performed, 1..3),
        text(),
        prop::collection::vec(diagnosis(), 0..3),
        (prop::option::of(text()), prop::option::of(text())),
        prop::collection::vec(test, 0..3),
        prop::collection::vec(medication(), 0..3),
    )
        .prop_map(
            |(
                (reason, history, exam),
                performed,
                report,
                diagnoses,
                (conclusions, suggestions),
                tests,
                therapy,
            )| {
                json!({
                    "reason": reason,
                    "clinical_history": history,
                    "physical_exam": exam,
                    "performed": performed,
                    "report": report,
                    "diagnoses": diagnoses,
                    "conclusions": conclusions,
                    "suggestions": suggestions,
                    "recommended_tests": tests,
                    "recommended_therapy": therapy,
                })
            },
        )
}

fn ldo_body() -> impl Strategy<Value = Value> {
    let procedure = (pick(PROCEDURES), timestamp())
        .prop_map(|((c, n), t)| json!({ "code": { "code": c, "display": n }, "time": t }));
    (
        reason(),
        prop::option::of(text()),
        text(),
        prop::collection::vec(procedure, 0..3),
        (text(), prop::collection::vec(diagnosis(), 1..3)),
        prop::collection::vec(medication(), 0..3),
        prop::option::of(text()),
    )
        .prop_map(
            |(
                reason,
                assessment,
                course,
                procedures,
                (condition, diagnoses),
                therapy,
                follow_up,
            )| {
                json!({
                    "admission_reason": reason,
                    "initial_assessment": assessment,
                    "hospital_course": course,
                    "procedures": procedures,
                    "discharge": { "text": condition, "diagnoses": diagnoses },
                    "discharge_therapy": therapy,
                    "follow_up": follow_up,
                })
            },
        )
}

fn vps_body() -> impl Strategy<Value = Value> {
    let vital = ("[0-9]{4,5}-[0-9]", text(), decimal(), pick(UNITS), timestamp())
        .prop_map(|(code, display, value, unit, time)| json!({ "code": code, "display": display, "value": value, "unit": unit, "time": time }));
    (
        (
            pick(&["1", "2", "3", "4", "5", "6", "7", "9"]),
            pick(&["1", "2", "3", "4", "5", "6", "7", "9"]),
        ),
        (
            pick(MAIN_PROBLEMS).prop_map(|(c, _)| c),
            prop::option::of(text()),
        ),
        (
            pick(TRIAGE_CODES).prop_map(|(c, _)| c),
            timestamp(),
            prop::option::of(professional()),
            prop::option::of(text()),
        ),
        prop::collection::vec(vital, 0..4),
        prop::option::of(text()),
        (
            timestamp(),
            professional(),
            pick(OUTCOMES).prop_map(|(c, _)| c),
            prop::collection::vec(diagnosis(), 1..3),
        ),
        (
            prop::option::of(text()),
            prop::option::of(pick(TRIAGE_CODES).prop_map(|(c, _)| c)),
            prop::option::of(text()),
        ),
    )
        .prop_map(
            |(
                (transport, sent_by),
                (problem, cause),
                (triage, time, nurse, notes),
                vitals,
                course,
                discharge,
                extra,
            )| {
                let (dtime, doctor, outcome, diagnoses) = discharge;
                let left_early = outcome == "6" || outcome == "7";
                let (prognosis, appropriateness, plan) = extra;
                json!({
                    "arrival": { "transport": transport, "sent_by": sent_by },
                    "visit_reason": { "main_problem": problem, "cause": cause },
                    "triage": { "code": triage, "time": time, "performer": nurse, "notes": notes },
                    "vital_signs": vitals,
                    "course": course,
                    "discharge": {
                        "time": dtime,
                        "performer": doctor,
                        "outcome": outcome,
                        "diagnoses": if left_early { json!([]) } else { json!(diagnoses) },
                        "prognosis": prognosis,
                        "appropriateness": appropriateness,
                    },
                    "care_plan": plan,
                })
            },
        )
}

/// A whole input: the example's header with generated people, times,
/// confidentiality and version, and a generated body.
fn input(kind: DocumentType) -> BoxedStrategy<Value> {
    let body = match kind {
        DocumentType::Lab => lab_body().boxed(),
        DocumentType::Rad => rad_body().boxed(),
        DocumentType::Rsa => rsa_body().boxed(),
        DocumentType::Ldo => ldo_body().boxed(),
        DocumentType::Vps => vps_body().boxed(),
    };
    let example: Value = serde_json::from_str(kind.example_json()).unwrap();
    (
        body,
        (fiscal_code(), name(), pick(&["M", "F", "UN"])),
        (professional(), professional()),
        timestamp(),
        interval(),
        pick(&["N", "R", "V"]),
        1u32..4,
    )
        .prop_map(
            move |(
                body,
                (cf, pname, gender),
                (author, signer),
                effective,
                (start, end),
                confidentiality,
                version,
            )| {
                let mut v = example.clone();
                v["body"] = body;
                v["patient"]["fiscal_code"] = json!(cf);
                v["patient"]["name"] = pname;
                v["patient"]["gender"] = json!(gender);
                let mut author = author;
                author["telecoms"] = json!([{ "use": "WP", "value": "tel:+390550000000" }]);
                v["author"] = author;
                v["legal_authenticator"] = signer;
                v["document"]["effective_time"] = json!(effective);
                v["document"]["confidentiality"] = json!(confidentiality);
                if version > 1 {
                    let first = v["document"]["id"].clone();
                    v["document"]["set_id"] = first.clone();
                    v["document"]["id"]["extension"] = json!(format!(
                        "{}.v{version}",
                        first["extension"].as_str().unwrap()
                    ));
                    v["document"]["version"] = json!(version);
                    v["document"]["replaces"] = json!({ "id": first, "version": version - 1 });
                }
                if let Some(event) = v.get_mut("service_event").filter(|e| e.is_object()) {
                    event["start"] = json!(start.clone());
                    if event.get("end").is_some() || kind == DocumentType::Vps {
                        event["end"] = json!(end.clone());
                    }
                }
                if let Some(encounter) = v.get_mut("encounter").filter(|e| e.is_object()) {
                    encounter["start"] = json!(start);
                    if encounter.get("end").is_some() {
                        encounter["end"] = json!(end);
                    }
                }
                v
            },
        )
        .boxed()
}

#[test]
fn generated_inputs_build_valid_documents() {
    let validator = builder_support::validator("generated_inputs_build_valid_documents");
    let mut runner = TestRunner::new(Config {
        cases: 24,
        ..Config::default()
    });
    let mut documents = Vec::new();
    for kind in DocumentType::ALL {
        let strategy = input(kind);
        for case in 0..runner.config().cases {
            let tree = strategy.new_tree(&mut runner).unwrap();
            let json = tree.current();
            let xml = builder::build_json(Some(kind), &json.to_string())
                .unwrap_or_else(|e| panic!("{kind} case {case}: {e}\n{json:#}"));
            fse_cda::Metadata::from_bytes(xml.as_bytes()).unwrap();
            match validator {
                Some(validator) => {
                    builder_support::assert_valid(validator, &format!("{kind} case {case}"), &xml)
                }
                None => builder_support::assert_xsd_clean(&format!("{kind} case {case}"), &xml),
            }
            documents.push((format!("{kind} case {case}"), xml));
        }
    }
    builder_support::assert_xsd_valid("generated_inputs_build_valid_documents", &documents);
}
