//! VPS: verbale di pronto soccorso (HL7 Italia IG 1.1).
//!
//! Sections, each with the templateId the IG gives it: Modalità di
//! trasporto (11459-5, required), Motivo della visita (46239-0, required),
//! Triage (54094-8, required), Parametri vitali (8716-3), Decorso
//! (8648-8), Dimissione (28574-2, required), Piano di cura alla dimissione
//! (18776-5).
//!
//! The coded items use the national value sets of the EMUR flow, whose
//! codes the builder checks and names: [`TRANSPORT_MODES`],
//! [`REFERRERS`], [`MAIN_PROBLEMS`], [`TRIAGE_CODES`], [`OUTCOMES`].

use serde::Deserialize;

use super::common::{Diagnosis, OID_ICD9CM};
use super::header::OID_ACT_CODE_IT;
use super::lab::{check_unit, is_decimal};
use super::narrative::{self, Cell, component, section, status, text_paragraphs};
use super::types::{Professional, Timestamp};
use super::xml::El;
use super::{DocumentInput, Problems};

const OID_TRANSPORT: &str = "2.16.840.1.113883.2.9.6.1.54.6";
const OID_REFERRER: &str = "2.16.840.1.113883.2.9.6.1.54.1";
const OID_MAIN_PROBLEM: &str = "2.16.840.1.113883.2.9.6.1.54.2";
const OID_TRIAGE: &str = "2.16.840.1.113883.2.9.6.1.54.4";
const OID_OUTCOME: &str = "2.16.840.1.113883.2.9.6.1.54.5";

/// ModalitàTrasporto_VPS.
pub const TRANSPORT_MODES: &[(&str, &str)] = &[
    ("1", "Ambulanza 118"),
    ("2", "Altra ambulanza"),
    ("3", "Autonomo (arrivato con mezzi propri)"),
    ("4", "Elicottero 118"),
    ("5", "Altro elicottero"),
    ("6", "Mezzo di soccorso 118 di altre regioni"),
    ("7", "Altro"),
    ("9", "Non rilevato"),
];

/// ResponsabileInvio_VPS: who sent the patient.
pub const REFERRERS: &[(&str, &str)] = &[
    (
        "1",
        "Medico di medicina generale / pediatra di libera scelta",
    ),
    ("2", "Medico di continuità assistenziale"),
    ("3", "Specialista"),
    ("4", "Trasferito da altro istituto"),
    ("5", "Intervento C.O. 118"),
    ("6", "Decisione propria"),
    ("7", "Struttura penitenziaria"),
    ("9", "Altro"),
];

/// ProblemaPrincipale_VPS: the main problem at access.
pub const MAIN_PROBLEMS: &[(&str, &str)] = &[
    ("01", "Coma"),
    ("02", "Sindrome neurologica acuta"),
    ("03", "Altri sintomi sistema nervoso"),
    ("04", "Dolore addominale"),
    ("05", "Dolore toracico"),
    ("06", "Dispnea"),
    ("07", "Dolore precordiale"),
    ("08", "Shock"),
    ("09", "Emorragia non traumatica"),
    ("10", "Trauma"),
    ("11", "Intossicazione"),
    ("12", "Febbre"),
    ("13", "Reazione allergica"),
    ("14", "Alterazioni del ritmo"),
    ("15", "Ipertensione arteriosa"),
    ("16", "Stato di agitazione psicomotoria"),
    ("17", "Sintomi o disturbi oculistici"),
    ("18", "Sintomi o disturbi otorinolaringoiatrici"),
    ("19", "Sintomi o disturbi ostetrico-ginecologici"),
    ("20", "Sintomi o disturbi dermatologici"),
    ("21", "Sintomi o disturbi odontostomatologici"),
    ("22", "Sintomi o disturbi urologici"),
    ("23", "Altri sintomi o disturbi"),
    ("24", "Accertamenti medico legali"),
    ("25", "Problema sociale"),
    (
        "26",
        "Caduta da altezza inferiore o uguale alla statura del soggetto",
    ),
    ("27", "Ustione"),
    ("28", "Psichiatrico"),
    ("29", "Pneumologia / patologia respiratoria"),
    ("30", "Violenza altrui"),
    ("31", "Autolesionismo"),
];

/// CodiceTriage_VPS: the urgency code (numeric since the 2019 national
/// guidelines; the colour letters remain for older systems).
pub const TRIAGE_CODES: &[(&str, &str)] = &[
    ("1", "Rosso - emergenza"),
    ("2", "Arancione - urgenza"),
    ("3", "Azzurro - urgenza differibile"),
    ("4", "Verde - urgenza minore"),
    ("5", "Bianco - non urgenza"),
    ("R", "Rosso - molto critico"),
    ("G", "Giallo - mediamente critico"),
    ("V", "Verde - poco critico"),
    ("B", "Bianco - non critico"),
    ("N", "Nero - deceduto"),
    ("X", "Non eseguito"),
];

/// EsitoTrattamento_VPS: how the ER stay ended.
pub const OUTCOMES: &[(&str, &str)] = &[
    ("1", "Dimissione a domicilio"),
    ("2", "Ricovero in reparto di degenza"),
    ("3", "Trasferimento ad altro istituto"),
    ("4", "Decesso"),
    ("5", "Rifiuta ricovero"),
    ("6", "Il paziente abbandona il PS prima della visita medica"),
    ("7", "Il paziente abbandona il PS in corso di accertamenti"),
    ("8", "Dimissione con rinvio a strutture ambulatoriali"),
    ("9", "Trasferimento verso struttura di tipo territoriale"),
    ("10", "Accesso in OBI"),
    ("11", "Trasferimento a struttura territoriale"),
];

fn name_of<'a>(table: &'a [(&str, &'a str)], code: &str) -> &'a str {
    table
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("", |(_, n)| n)
}

fn check_code(p: &mut Problems, field: &str, code: &str, table: &[(&str, &str)]) {
    if !table.iter().any(|(c, _)| *c == code) {
        let codes: Vec<&str> = table.iter().map(|(c, _)| *c).collect();
        p.push(
            field.to_string(),
            format!("{code:?} is not one of {}", codes.join(", ")),
        );
    }
}

/// The body of an emergency room report.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpsBody {
    /// How the patient arrived and who sent them.
    pub arrival: Arrival,
    /// Why the patient came.
    pub visit_reason: VisitReason,
    /// The triage.
    pub triage: Triage,
    /// Vital signs measured.
    #[serde(default)]
    pub vital_signs: Vec<VitalSign>,
    /// The course in the ER, as text.
    #[serde(default)]
    pub course: Option<String>,
    /// The discharge from the ER.
    pub discharge: Discharge,
    /// The care plan after discharge, as text.
    #[serde(default)]
    pub care_plan: Option<String>,
}

/// Arrival: ModalitàTrasporto_VPS and ResponsabileInvio_VPS codes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arrival {
    /// How the patient arrived (see [`TRANSPORT_MODES`]).
    pub transport: String,
    /// Who sent the patient (see [`REFERRERS`]).
    pub sent_by: String,
}

/// The reason for the visit.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisitReason {
    /// The main problem at access (see [`MAIN_PROBLEMS`]).
    pub main_problem: String,
    /// The cause of access, in words.
    #[serde(default)]
    pub cause: Option<String>,
}

/// The triage.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Triage {
    /// The urgency code (see [`TRIAGE_CODES`]).
    pub code: String,
    /// When it was assigned.
    pub time: Timestamp,
    /// The triage nurse.
    #[serde(default)]
    pub performer: Option<Professional>,
    /// Notes.
    #[serde(default)]
    pub notes: Option<String>,
}

/// One vital sign: a LOINC code and a quantity.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VitalSign {
    /// LOINC code (`8480-6` systolic pressure, `8867-4` heart rate, …).
    pub code: String,
    /// What it is, for the narrative.
    pub display: String,
    /// The number.
    pub value: String,
    /// The UCUM unit.
    pub unit: String,
    /// When it was measured.
    pub time: Timestamp,
}

/// The discharge from the ER.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Discharge {
    /// When.
    pub time: Timestamp,
    /// The discharging doctor.
    pub performer: Professional,
    /// The outcome (see [`OUTCOMES`]).
    pub outcome: String,
    /// Discharge diagnoses (ICD-9-CM): required unless the patient left
    /// before or during the visit (outcomes 6 and 7).
    #[serde(default)]
    pub diagnoses: Vec<Diagnosis>,
    /// The prognosis, in words.
    #[serde(default)]
    pub prognosis: Option<String>,
    /// The appropriateness of the access, as a triage code (see [`TRIAGE_CODES`]).
    #[serde(default)]
    pub appropriateness: Option<String>,
}

impl VpsBody {
    pub(crate) fn check(&self, p: &mut Problems) {
        check_code(
            p,
            "body.arrival.transport",
            &self.arrival.transport,
            TRANSPORT_MODES,
        );
        check_code(p, "body.arrival.sent_by", &self.arrival.sent_by, REFERRERS);
        check_code(
            p,
            "body.visit_reason.main_problem",
            &self.visit_reason.main_problem,
            MAIN_PROBLEMS,
        );
        if self
            .visit_reason
            .cause
            .as_deref()
            .is_some_and(|c| c.trim().is_empty())
        {
            p.push("body.visit_reason.cause", "must not be empty when given");
        }
        check_code(p, "body.triage.code", &self.triage.code, TRIAGE_CODES);
        if let Some(nurse) = &self.triage.performer {
            nurse.check(p, "body.triage.performer");
        }
        for (i, v) in self.vital_signs.iter().enumerate() {
            let f = format!("body.vital_signs[{i}]");
            if v.code.trim().is_empty() {
                p.push(format!("{f}.code"), "must not be empty");
            }
            if !is_decimal(&v.value) {
                p.push(
                    format!("{f}.value"),
                    format!("{:?} is not a decimal number", v.value),
                );
            }
            check_unit(p, &format!("{f}.unit"), &v.unit);
        }
        if self.course.as_deref().is_some_and(|c| c.trim().is_empty()) {
            p.push("body.course", "must not be empty when given");
        }
        let d = &self.discharge;
        d.performer.check(p, "body.discharge.performer");
        check_code(p, "body.discharge.outcome", &d.outcome, OUTCOMES);
        let left_early = matches!(d.outcome.as_str(), "6" | "7");
        if d.diagnoses.is_empty() && !left_early {
            p.push(
                "body.discharge.diagnoses",
                "at least one diagnosis, unless the patient left early (outcome 6 or 7)",
            );
        }
        if !d.diagnoses.is_empty() && left_early {
            p.push(
                "body.discharge.diagnoses",
                "no diagnosis when the patient left early (outcome 6 or 7)",
            );
        }
        for (i, diag) in d.diagnoses.iter().enumerate() {
            diag.check(p, &format!("body.discharge.diagnoses[{i}]"));
        }
        if d.prognosis.as_deref().is_some_and(|c| c.trim().is_empty()) {
            p.push("body.discharge.prognosis", "must not be empty when given");
        }
        if let Some(a) = &d.appropriateness {
            check_code(p, "body.discharge.appropriateness", a, TRIAGE_CODES);
        }
        if self
            .care_plan
            .as_deref()
            .is_some_and(|c| c.trim().is_empty())
        {
            p.push("body.care_plan", "must not be empty when given");
        }
    }

    pub(crate) fn body(&self, _input: &DocumentInput) -> El {
        let mut body = El::new("structuredBody");
        body.push(component(self.arrival_section()));
        body.push(component(self.reason_section()));
        body.push(component(self.triage_section()));
        if !self.vital_signs.is_empty() {
            body.push(component(self.vital_signs_section()));
        }
        if let Some(course) = &self.course {
            body.push(component(
                section(
                    Some("2.16.840.1.113883.2.9.10.1.6.23"),
                    "8648-8",
                    "Decorso ospedaliero",
                    "Decorso",
                )
                .child(text_paragraphs(course)),
            ));
        }
        body.push(component(self.discharge_section()));
        if let Some(plan) = &self.care_plan {
            body.push(component(
                section(
                    Some("2.16.840.1.113883.2.9.10.1.6.34"),
                    "18776-5",
                    "Piano di cura",
                    "Piano di cura alla dimissione",
                )
                .child(text_paragraphs(plan)),
            ));
        }
        body
    }

    fn arrival_section(&self) -> El {
        let a = &self.arrival;
        let text = El::new("text").child(narrative::table(
            &["Modalità di trasporto", "Responsabile dell'invio"],
            vec![vec![
                Cell::with_id(name_of(TRANSPORT_MODES, &a.transport), "trasporto"),
                Cell::new(name_of(REFERRERS, &a.sent_by)),
            ]],
        ));
        section(
            Some("2.16.840.1.113883.2.9.10.1.6.20"),
            "11459-5",
            "Modalità di trasporto",
            "Modalità di trasporto",
        )
        .child(text)
        .child(
            El::new("entry").child(
                El::new("act")
                    .attr("classCode", "TRNS")
                    .attr("moodCode", "EVN")
                    .child(El::new("templateId").attr("root", "2.16.840.1.113883.2.9.10.1.6.40"))
                    .child(value_set_code(
                        "code",
                        &a.transport,
                        OID_TRANSPORT,
                        TRANSPORT_MODES,
                    ))
                    .child(narrative::text_ref("trasporto"))
                    .child(status("completed"))
                    .child(El::new("participant").attr("typeCode", "REFB").child(
                        El::new("participantRole").child(value_set_code(
                            "code",
                            &a.sent_by,
                            OID_REFERRER,
                            REFERRERS,
                        )),
                    )),
            ),
        )
    }

    fn reason_section(&self) -> El {
        let r = &self.visit_reason;
        let mut list = El::new("list").child(
            El::new("item").child(
                El::new("content")
                    .attr("ID", "problema-principale")
                    .text(name_of(MAIN_PROBLEMS, &r.main_problem)),
            ),
        );
        if let Some(cause) = &r.cause {
            list.push(
                El::new("item").child(
                    El::new("content")
                        .attr("ID", "causa-accesso")
                        .text(cause.clone()),
                ),
            );
        }
        let mut s = section(
            Some("2.16.840.1.113883.2.9.10.1.6.42"),
            "46239-0",
            "Motivo della visita",
            "Motivo della visita",
        )
        .child(El::new("text").child(list))
        .child(
            El::new("entry").child(
                El::new("observation")
                    .attr("classCode", "OBS")
                    .attr("moodCode", "EVN")
                    .child(El::new("templateId").attr("root", "2.16.840.1.113883.2.9.10.1.6.37"))
                    .child(narrative::loinc("code", "56817-0", "Problema principale"))
                    .child(narrative::text_ref("problema-principale"))
                    .child(status("completed"))
                    .child(
                        value_set_code("value", &r.main_problem, OID_MAIN_PROBLEM, MAIN_PROBLEMS)
                            .attr("xsi:type", "CD"),
                    ),
            ),
        );
        if let Some(cause) = &r.cause {
            s.push(
                El::new("entry").child(
                    El::new("observation")
                        .attr("classCode", "OBS")
                        .attr("moodCode", "EVN")
                        .child(
                            El::new("templateId").attr("root", "2.16.840.1.113883.2.9.10.1.6.87"),
                        )
                        .child(narrative::loinc("code", "29298-7", "Motivo della visita"))
                        .child(narrative::text_ref("causa-accesso"))
                        .child(status("completed"))
                        .child(El::new("value").attr("xsi:type", "ST").text(cause.clone())),
                ),
            );
        }
        s
    }

    fn triage_section(&self) -> El {
        let t = &self.triage;
        let mut list = El::new("list")
            .child(El::new("item").text(format!(
                "Codice di triage: {}",
                name_of(TRIAGE_CODES, &t.code)
            )))
            .child(El::new("item").text(format!("Assegnato il {}", t.time.display())));
        if let Some(nurse) = &t.performer {
            list.push(El::new("item").text(format!("Operatore: {}", nurse.name.display())));
        }
        if let Some(notes) = &t.notes {
            list.push(
                El::new("item").child(
                    El::new("content")
                        .attr("ID", "triage-note")
                        .text(notes.clone()),
                ),
            );
        }
        let observation = El::new("observation")
            .attr("classCode", "OBS")
            .attr("moodCode", "EVN")
            .child(El::new("templateId").attr("root", "2.16.840.1.113883.2.9.10.1.6.39"))
            .child(narrative::loinc("code", "11283-9", "Valutazione acutezza"))
            .child_opt(t.notes.as_ref().map(|_| narrative::text_ref("triage-note")))
            .child(status("completed"))
            .child(narrative::effective_at(&t.time))
            .child(
                value_set_code("value", &t.code, OID_TRIAGE, TRIAGE_CODES).attr("xsi:type", "CD"),
            )
            .child_opt(t.performer.as_ref().map(|p| {
                El::new("performer")
                    .attr("typeCode", "PRF")
                    .child(p.entity("assignedEntity", false))
            }));
        section(
            Some("2.16.840.1.113883.2.9.10.1.6.21"),
            "54094-8",
            "Triage note",
            "Triage",
        )
        .child(El::new("text").child(list))
        .child(El::new("entry").child(observation))
    }

    fn vital_signs_section(&self) -> El {
        let rows = self
            .vital_signs
            .iter()
            .enumerate()
            .map(|(i, v)| {
                vec![
                    Cell::with_id(v.display.clone(), format!("parametro{}", i + 1)),
                    Cell::new(format!("{} {}", v.value, v.unit)),
                    Cell::new(v.time.display()),
                ]
            })
            .collect();
        let mut organizer = El::new("organizer")
            .attr("classCode", "CLUSTER")
            .attr("moodCode", "EVN")
            .child(El::new("templateId").attr("root", "2.16.840.1.113883.2.9.10.1.6.90"))
            .child(narrative::loinc("code", "85353-1", "Parametri vitali"))
            .child(status("completed"));
        for (i, v) in self.vital_signs.iter().enumerate() {
            organizer.push(
                El::new("component").child(
                    El::new("observation")
                        .attr("classCode", "OBS")
                        .attr("moodCode", "EVN")
                        .child(
                            El::new("templateId").attr("root", "2.16.840.1.113883.2.9.10.1.6.91"),
                        )
                        .child(narrative::loinc("code", &v.code, &v.display))
                        .child(narrative::text_ref(&format!("parametro{}", i + 1)))
                        .child(status("completed"))
                        .child(narrative::effective_at(&v.time))
                        .child(
                            El::new("value")
                                .attr("xsi:type", "PQ")
                                .attr("value", v.value.clone())
                                .attr("unit", v.unit.clone()),
                        ),
                ),
            );
        }
        section(
            Some("2.16.840.1.113883.2.9.10.1.6.28"),
            "8716-3",
            "Parametri vitali",
            "Parametri vitali",
        )
        .child(El::new("text").child(narrative::table(
            &["Parametro", "Valore", "Rilevato il"],
            rows,
        )))
        .child(El::new("entry").child(organizer))
    }

    fn discharge_section(&self) -> El {
        let d = &self.discharge;
        let mut rows = vec![vec![
            Cell::new("Esito"),
            Cell::with_id(name_of(OUTCOMES, &d.outcome), "esito"),
        ]];
        rows.push(vec![Cell::new("Data e ora"), Cell::new(d.time.display())]);
        rows.push(vec![
            Cell::new("Medico"),
            Cell::new(d.performer.name.display()),
        ]);
        for (i, diag) in d.diagnoses.iter().enumerate() {
            rows.push(vec![
                Cell::new("Diagnosi"),
                Cell::with_id(
                    format!("{} (ICD-9-CM {})", diag.code.label(), diag.code.code),
                    format!("diagnosi{}", i + 1),
                ),
            ]);
        }
        if let Some(prognosis) = &d.prognosis {
            rows.push(vec![
                Cell::new("Prognosi"),
                Cell::with_id(prognosis.clone(), "prognosi"),
            ]);
        }
        if let Some(a) = &d.appropriateness {
            rows.push(vec![
                Cell::new("Livello di appropriatezza"),
                Cell::with_id(name_of(TRIAGE_CODES, a), "appropriatezza"),
            ]);
        }
        let mut act = El::new("act")
            .attr("classCode", "ACT")
            .attr("moodCode", "EVN")
            .child(El::new("templateId").attr("root", "2.16.840.1.113883.2.9.10.1.6.66"))
            .child(
                El::new("code")
                    .attr("code", "dimissione")
                    .attr("codeSystem", OID_ACT_CODE_IT)
                    .attr("codeSystemName", "HL7 ActCode")
                    .attr("displayName", "Dimissione"),
            )
            .child(status("completed"))
            .child(narrative::effective_at(&d.time))
            .child(El::new("performer").child(d.performer.entity("assignedEntity", false)));
        for (i, diag) in d.diagnoses.iter().enumerate() {
            act.push(
                El::new("entryRelationship").attr("typeCode", "COMP").child(
                    El::new("observation")
                        .attr("classCode", "OBS")
                        .attr("moodCode", "EVN")
                        .child(
                            El::new("templateId").attr("root", "2.16.840.1.113883.2.9.10.1.6.70"),
                        )
                        .child(narrative::loinc("code", "29308-4", "Diagnosi"))
                        .child(narrative::text_ref(&format!("diagnosi{}", i + 1)))
                        .child(status("completed"))
                        .child(narrative::effective_at(
                            diag.time.as_ref().unwrap_or(&d.time),
                        ))
                        .child(
                            diag.code
                                .element("value", OID_ICD9CM)
                                .attr("xsi:type", "CD"),
                        ),
                ),
            );
        }
        act.push(
            El::new("entryRelationship").attr("typeCode", "COMP").child(
                El::new("observation")
                    .attr("classCode", "OBS")
                    .attr("moodCode", "EVN")
                    .child(El::new("templateId").attr("root", "2.16.840.1.113883.2.9.10.1.6.69"))
                    .child(narrative::loinc("code", "11302-7", "Esito"))
                    .child(narrative::text_ref("esito"))
                    .child(status("completed"))
                    .child(
                        value_set_code("value", &d.outcome, OID_OUTCOME, OUTCOMES)
                            .attr("xsi:type", "CD"),
                    ),
            ),
        );
        let mut s = section(
            Some("2.16.840.1.113883.2.9.10.1.6.24"),
            "28574-2",
            "Note di dimissione",
            "Dimissione",
        )
        .child(El::new("text").child(narrative::table(&["Voce", "Dettaglio"], rows)))
        .child(El::new("entry").child(act));
        if let Some(prognosis) = &d.prognosis {
            s.push(
                El::new("entry").child(
                    El::new("observation")
                        .attr("classCode", "OBS")
                        .attr("moodCode", "EVN")
                        .child(
                            El::new("templateId").attr("root", "2.16.840.1.113883.2.9.10.1.6.66"),
                        )
                        .child(narrative::loinc("code", "75328-5", "Prognosi"))
                        .child(narrative::text_ref("prognosi"))
                        .child(status("completed"))
                        .child(narrative::effective_at(&d.time))
                        .child(
                            El::new("value")
                                .attr("xsi:type", "ST")
                                .text(prognosis.clone()),
                        ),
                ),
            );
        }
        if let Some(a) = &d.appropriateness {
            s.push(
                El::new("entry").child(
                    El::new("observation")
                        .attr("classCode", "OBS")
                        .attr("moodCode", "EVN")
                        .child(
                            El::new("templateId").attr("root", "2.16.840.1.113883.2.9.10.1.6.72"),
                        )
                        .child(narrative::loinc(
                            "code",
                            "11283-9",
                            "Livello di appropriatezza",
                        ))
                        .child(narrative::text_ref("appropriatezza"))
                        .child(status("completed"))
                        .child(narrative::effective_at(&d.time))
                        .child(
                            value_set_code("value", a, OID_TRIAGE, TRIAGE_CODES)
                                .attr("xsi:type", "CD"),
                        ),
                ),
            );
        }
        s
    }
}

/// A code of one of the VPS value sets, with its name.
fn value_set_code(name: &str, code: &str, system: &str, table: &[(&str, &str)]) -> El {
    El::new(name)
        .attr("code", code)
        .attr("codeSystem", system)
        .attr_opt("codeSystemName", super::types::system_name(system))
        .attr("displayName", name_of(table, code))
}
