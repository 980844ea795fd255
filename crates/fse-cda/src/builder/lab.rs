//! LAB: referto di medicina di laboratorio (HL7 Italia IG 1.3).
//!
//! One section per specialty (chemistry, haematology, …), each with a table
//! of the results and one entry: an `act` grouping the results as
//! `observation`s, directly or inside `organizer`s of class `BATTERY`.

use serde::Deserialize;

use super::narrative::{self, Cell, loinc, status};
use super::types::{Coded, Timestamp};
use super::xml::El;
use super::{DocumentInput, Problems};
use crate::metadata::OID_LOINC;

const OID_INTERPRETATION: &str = "2.16.840.1.113883.5.83";
const OID_SPECIMEN_TYPE: &str = "2.16.840.1.113883.5.129";
const OID_METHOD: &str = "2.16.840.1.113883.5.84";

/// The specialty sections the LAB schematron allows (ERRORE-b1), with
/// their Italian titles.
pub const SPECIALTIES: &[(&str, &str)] = &[
    ("18716-1", "Allergologia"),
    ("18717-9", "Medicina trasfusionale"),
    ("18718-7", "Marcatori genetici"),
    ("18719-5", "Chimica clinica"),
    ("18720-3", "Coagulazione"),
    ("18721-1", "Monitoraggio terapeutico dei farmaci"),
    ("18722-9", "Fertilità"),
    ("18723-7", "Ematologia"),
    ("18724-5", "HLA"),
    ("18725-2", "Microbiologia"),
    ("18727-8", "Sierologia"),
    ("18728-6", "Tossicologia"),
    ("18729-4", "Esami delle urine"),
    ("18767-4", "Emogasanalisi"),
    ("18768-2", "Conta cellulare e formula leucocitaria"),
    ("18769-0", "Antibiogramma"),
    ("26435-8", "Patologia molecolare"),
    ("26436-6", "Esami di laboratorio"),
    ("26437-4", "Test di stimolo"),
    ("26438-2", "Citologia"),
    ("26439-0", "Esami delle feci"),
];

/// HL7 ObservationInterpretation codes the builder accepts, with the
/// Italian words shown in the narrative.
pub const INTERPRETATIONS: &[(&str, &str)] = &[
    ("N", "Normale"),
    ("A", "Anormale"),
    ("AA", "Anormale critico"),
    ("H", "Alto"),
    ("HH", "Alto critico"),
    ("L", "Basso"),
    ("LL", "Basso critico"),
    ("<", "Sotto la scala"),
    (">", "Sopra la scala"),
    ("POS", "Positivo"),
    ("NEG", "Negativo"),
    ("DET", "Rilevato"),
    ("ND", "Non rilevato"),
    ("IND", "Indeterminato"),
    ("S", "Sensibile"),
    ("I", "Intermedio"),
    ("R", "Resistente"),
];

/// The body of a laboratory report.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabBody {
    /// One section per specialty, at least one.
    pub specialties: Vec<Specialty>,
}

/// A specialty section: its results, alone or grouped in batteries.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Specialty {
    /// The specialty's LOINC code (see [`SPECIALTIES`]).
    pub code: String,
    /// The title; defaults to the specialty's Italian name.
    #[serde(default)]
    pub title: Option<String>,
    /// The specimen all results of the section come from (HL7 SpecimenType, e.g. `SER`).
    #[serde(default)]
    pub specimen: Option<Coded>,
    /// Results not grouped in a battery.
    #[serde(default)]
    pub results: Vec<LabResult>,
    /// Batteries (panels) of results.
    #[serde(default)]
    pub batteries: Vec<Battery>,
    /// A comment on the section's results.
    #[serde(default)]
    pub comment: Option<String>,
}

/// A battery (panel): a LOINC-coded group of results.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Battery {
    /// The battery's code (LOINC when no system is given).
    pub code: Coded,
    /// Its results, at least one.
    pub results: Vec<LabResult>,
}

/// One result.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabResult {
    /// The test (LOINC when no system is given).
    pub test: Coded,
    /// The value found.
    pub value: ResultValue,
    /// HL7 ObservationInterpretation: `N`, `H`, `L`, `POS`, … (see [`INTERPRETATIONS`]).
    #[serde(default)]
    pub interpretation: Option<String>,
    /// The reference range.
    #[serde(default)]
    pub reference_range: Option<ReferenceRange>,
    /// HL7 ObservationMethod code.
    #[serde(default)]
    pub method: Option<Coded>,
    /// When the value was observed; defaults to the service event's start,
    /// else the document's effective time.
    #[serde(default)]
    pub time: Option<Timestamp>,
}

/// A result value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum ResultValue {
    /// A physical quantity: a decimal number and a UCUM unit.
    PQ {
        /// The number, e.g. `5.4`.
        value: String,
        /// The UCUM unit, e.g. `mg/dL`.
        unit: String,
    },
    /// A text.
    ST {
        /// The text.
        text: String,
    },
    /// A coded value.
    CD {
        /// The code.
        code: String,
        /// Its code system's OID.
        system: fse_model::Oid,
        /// Its meaning.
        #[serde(default)]
        display: Option<String>,
    },
}

/// A reference range: numeric bounds in the result's unit, or a text.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceRange {
    /// The lower bound.
    #[serde(default)]
    pub low: Option<String>,
    /// The upper bound.
    #[serde(default)]
    pub high: Option<String>,
    /// A textual range (`Negativo`) when there are no bounds.
    #[serde(default)]
    pub text: Option<String>,
}

pub(crate) fn is_decimal(v: &str) -> bool {
    let v = v.strip_prefix('-').unwrap_or(v);
    let (int, frac) = v.split_once('.').unwrap_or((v, "0"));
    !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

pub(crate) fn check_unit(p: &mut Problems, field: &str, unit: &str) {
    if unit.is_empty() || unit.chars().any(|c| c.is_whitespace() || c.is_control()) {
        p.push(
            field.to_string(),
            "must be a UCUM unit without spaces (use 1 for unitless)",
        );
    }
}

impl LabBody {
    pub(crate) fn check(&self, p: &mut Problems) {
        if self.specialties.is_empty() {
            p.push(
                "body.specialties",
                "a laboratory report has at least one specialty section",
            );
        }
        for (i, s) in self.specialties.iter().enumerate() {
            let field = format!("body.specialties[{i}]");
            if !SPECIALTIES.iter().any(|(c, _)| *c == s.code) {
                p.push(
                    format!("{field}.code"),
                    format!("{:?} is not a LAB specialty section code", s.code),
                );
            }
            if s.results.is_empty() && s.batteries.is_empty() {
                p.push(
                    format!("{field}.results"),
                    "a specialty has at least one result or battery",
                );
            }
            if let Some(sp) = &s.specimen {
                sp.check(p, &format!("{field}.specimen"));
            }
            for (j, r) in s.results.iter().enumerate() {
                r.check(p, &format!("{field}.results[{j}]"));
            }
            for (j, b) in s.batteries.iter().enumerate() {
                let bf = format!("{field}.batteries[{j}]");
                b.code.check(p, &format!("{bf}.code"));
                if b.results.is_empty() {
                    p.push(format!("{bf}.results"), "a battery has at least one result");
                }
                for (k, r) in b.results.iter().enumerate() {
                    r.check(p, &format!("{bf}.results[{k}]"));
                }
            }
            if s.comment.as_deref().is_some_and(|c| c.trim().is_empty()) {
                p.push(format!("{field}.comment"), "must not be empty when given");
            }
        }
    }

    pub(crate) fn body(&self, input: &DocumentInput) -> El {
        let default_time = input
            .service_event
            .as_ref()
            .map_or(&input.document.effective_time, |e| &e.start);
        let mut body = El::new("structuredBody");
        for (i, s) in self.specialties.iter().enumerate() {
            body.push(narrative::component(s.section(i + 1, default_time)));
        }
        body
    }
}

impl LabResult {
    fn check(&self, p: &mut Problems, field: &str) {
        self.test.check(p, &format!("{field}.test"));
        match &self.value {
            ResultValue::PQ { value, unit } => {
                if !is_decimal(value) {
                    p.push(
                        format!("{field}.value.value"),
                        format!("{value:?} is not a decimal number"),
                    );
                }
                check_unit(p, &format!("{field}.value.unit"), unit);
            }
            ResultValue::ST { text } if text.trim().is_empty() => {
                p.push(format!("{field}.value.text"), "must not be empty");
            }
            ResultValue::CD { code, .. } if code.trim().is_empty() => {
                p.push(format!("{field}.value.code"), "must not be empty");
            }
            _ => {}
        }
        if let Some(i) = &self.interpretation
            && !INTERPRETATIONS.iter().any(|(c, _)| c == i)
        {
            let codes: Vec<&str> = INTERPRETATIONS.iter().map(|(c, _)| *c).collect();
            p.push(
                format!("{field}.interpretation"),
                format!("{i:?} is not one of {}", codes.join(" ")),
            );
        }
        if let Some(m) = &self.method {
            m.check(p, &format!("{field}.method"));
            m.check_system(p, &format!("{field}.method"), &[OID_METHOD]);
        }
        if let Some(range) = &self.reference_range {
            let rf = format!("{field}.reference_range");
            let numeric = range.low.is_some() || range.high.is_some();
            if numeric && !matches!(self.value, ResultValue::PQ { .. }) {
                p.push(
                    format!("{rf}.low"),
                    "numeric bounds need a PQ value (give text instead)",
                );
            }
            if !numeric && range.text.as_deref().is_none_or(|t| t.trim().is_empty()) {
                p.push(rf.clone(), "give low and/or high, or text");
            }
            for (name, bound) in [("low", &range.low), ("high", &range.high)] {
                if let Some(b) = bound
                    && !is_decimal(b)
                {
                    p.push(
                        format!("{rf}.{name}"),
                        format!("{b:?} is not a decimal number"),
                    );
                }
            }
            if let (Some(l), Some(h)) = (&range.low, &range.high)
                && let (Ok(l), Ok(h)) = (l.parse::<f64>(), h.parse::<f64>())
                && h < l
            {
                p.push(format!("{rf}.high"), "is below low");
            }
        }
    }

    fn value_text(&self) -> (String, String) {
        match &self.value {
            ResultValue::PQ { value, unit } => (value.clone(), unit.clone()),
            ResultValue::ST { text } => (text.clone(), String::new()),
            ResultValue::CD { code, display, .. } => (
                display.clone().unwrap_or_else(|| code.clone()),
                String::new(),
            ),
        }
    }

    fn range_text(&self) -> String {
        let Some(range) = &self.reference_range else {
            return String::new();
        };
        match (&range.low, &range.high) {
            (Some(l), Some(h)) => format!("{l} - {h}"),
            (Some(l), None) => format!("≥ {l}"),
            (None, Some(h)) => format!("≤ {h}"),
            (None, None) => range.text.clone().unwrap_or_default(),
        }
    }

    fn row(&self, id: &str) -> Vec<Cell> {
        let (value, unit) = self.value_text();
        let name = self.test.label().to_string();
        let interpretation = self
            .interpretation
            .as_ref()
            .map(|c| {
                INTERPRETATIONS
                    .iter()
                    .find(|(k, _)| k == c)
                    .map_or(c.as_str(), |(_, v)| v)
                    .to_string()
            })
            .unwrap_or_default();
        vec![
            Cell::with_id(name, id),
            Cell::new(value),
            Cell::new(unit),
            Cell::new(self.range_text()),
            Cell::new(interpretation),
        ]
    }

    fn observation(&self, id: &str, default_time: &Timestamp) -> El {
        let value = match &self.value {
            ResultValue::PQ { value, unit } => El::new("value")
                .attr("xsi:type", "PQ")
                .attr("value", value.clone())
                .attr("unit", unit.clone()),
            ResultValue::ST { text } => El::new("value").attr("xsi:type", "ST").text(text.clone()),
            ResultValue::CD {
                code,
                system,
                display,
            } => El::new("value")
                .attr("xsi:type", "CD")
                .attr("code", code.clone())
                .attr("codeSystem", system.as_str())
                .attr_opt("displayName", display.clone()),
        };
        let interpretation = self
            .interpretation
            .as_ref()
            .map(|code| interpretation_code(code));
        let range = self.reference_range.as_ref().map(|range| {
            let unit = match &self.value {
                ResultValue::PQ { unit, .. } => unit.clone(),
                _ => String::new(),
            };
            let numeric = range.low.is_some() || range.high.is_some();
            let bounds = numeric.then(|| {
                El::new("value")
                    .attr("xsi:type", "IVL_PQ")
                    .child_opt(range.low.as_ref().map(|l| {
                        El::new("low")
                            .attr("value", l.clone())
                            .attr("unit", unit.clone())
                    }))
                    .child_opt(range.high.as_ref().map(|h| {
                        El::new("high")
                            .attr("value", h.clone())
                            .attr("unit", unit.clone())
                    }))
            });
            El::new("referenceRange").child(
                El::new("observationRange")
                    .child_opt(range.text.as_ref().map(|t| El::new("text").text(t.clone())))
                    .child_opt(bounds)
                    .child(interpretation_code("N")),
            )
        });
        El::new("observation")
            .attr("classCode", "OBS")
            .attr("moodCode", "EVN")
            .child(self.test.element("code", OID_LOINC))
            .child(narrative::text_ref(id))
            .child(status("completed"))
            .child(narrative::effective_at(
                self.time.as_ref().unwrap_or(default_time),
            ))
            .child(value)
            .child_opt(interpretation)
            .child_opt(
                self.method
                    .as_ref()
                    .map(|m| m.element("methodCode", OID_METHOD)),
            )
            .child_opt(range)
    }
}

fn interpretation_code(code: &str) -> El {
    let name = INTERPRETATIONS
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(code, |(_, n)| n);
    El::new("interpretationCode")
        .attr("code", code)
        .attr("codeSystem", OID_INTERPRETATION)
        .attr("codeSystemName", "HL7 ObservationInterpretation")
        .attr("displayName", name)
}

impl Specialty {
    fn section(&self, n: usize, default_time: &Timestamp) -> El {
        let name = SPECIALTIES
            .iter()
            .find(|(c, _)| *c == self.code)
            .map_or("Esami di laboratorio", |(_, t)| t);
        let title = self.title.clone().unwrap_or_else(|| name.to_string());
        let mut rows = Vec::new();
        let mut act = El::new("act")
            .attr("classCode", "ACT")
            .attr("moodCode", "EVN")
            .child(loinc("code", &self.code, name))
            .child(status("completed"));
        if let Some(specimen) = &self.specimen {
            act.push(
                El::new("specimen").attr("typeCode", "SPC").child(
                    El::new("specimenRole").attr("classCode", "SPEC").child(
                        El::new("specimenPlayingEntity")
                            .child(specimen.element("code", OID_SPECIMEN_TYPE)),
                    ),
                ),
            );
        }
        let comment_id = format!("lab{n}-nota");
        if self.comment.is_some() {
            act.push(
                El::new("entryRelationship").attr("typeCode", "SUBJ").child(
                    El::new("act")
                        .attr("classCode", "ACT")
                        .attr("moodCode", "EVN")
                        .child(loinc("code", "48767-8", "Annotazioni e commenti"))
                        .child(narrative::text_ref(&comment_id))
                        .child(status("completed")),
                ),
            );
        }
        for (j, r) in self.results.iter().enumerate() {
            let id = format!("lab{n}-r{}", j + 1);
            rows.push(r.row(&id));
            act.push(
                El::new("entryRelationship")
                    .attr("typeCode", "COMP")
                    .child(r.observation(&id, default_time)),
            );
        }
        for (j, b) in self.batteries.iter().enumerate() {
            let battery_id = format!("lab{n}-b{}", j + 1);
            rows.push(vec![
                Cell::with_id(b.code.label(), battery_id.as_str()),
                Cell::new(""),
                Cell::new(""),
                Cell::new(""),
                Cell::new(""),
            ]);
            let mut organizer = El::new("organizer")
                .attr("classCode", "BATTERY")
                .attr("moodCode", "EVN")
                .child(b.code.element("code", OID_LOINC))
                .child(status("completed"));
            for (k, r) in b.results.iter().enumerate() {
                let id = format!("{battery_id}-r{}", k + 1);
                rows.push(r.row(&id));
                organizer.push(El::new("component").child(r.observation(&id, default_time)));
            }
            act.push(
                El::new("entryRelationship")
                    .attr("typeCode", "COMP")
                    .child(organizer),
            );
        }
        let mut text = El::new("text").child(narrative::table(
            &[
                "Esame",
                "Risultato",
                "Unità di misura",
                "Valori di riferimento",
                "Interpretazione",
            ],
            rows,
        ));
        if let Some(specimen) = &self.specimen {
            text.push(El::new("paragraph").text(format!("Campione: {}", specimen.label())));
        }
        if let Some(comment) = &self.comment {
            let joined = comment.split_whitespace().collect::<Vec<_>>().join(" ");
            text.push(
                El::new("paragraph")
                    .attr("ID", comment_id)
                    .text(format!("Note: {joined}")),
            );
        }
        El::new("section")
            .attr("ID", format!("lab{n}"))
            .child(loinc("code", &self.code, name))
            .child(El::new("title").text(title))
            .child(text)
            .child(El::new("entry").attr("typeCode", "DRIV").child(act))
    }
}
