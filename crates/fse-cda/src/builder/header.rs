//! The CDA2 header: checks and writing.

use super::types::{Timestamp, check_interval, fiscal_code_id};
use super::xml::El;
use super::{DocumentInput, DocumentType, Encounter, Problems, Professional};
use crate::metadata::{OID_CONFIDENTIALITY, OID_LOINC, PatientIdKind};

/// The OID of HL7 ActPriority.
const OID_PRIORITY: &str = "2.16.840.1.113883.5.7";
/// The Italian extension of HL7 ActCode (access modes, `dimissione`).
pub(crate) const OID_ACT_CODE_IT: &str = "2.16.840.1.113883.2.9.5.1.4";

pub(super) fn check(input: &DocumentInput, p: &mut Problems) {
    let kind = input.document_type();
    let doc = &input.document;
    doc.id.check(p, "document.id");
    if let Some(title) = &doc.title
        && title.trim().is_empty()
    {
        p.push("document.title", "must not be empty when given");
    }
    if doc.version == 0 {
        p.push("document.version", "starts at 1");
    }
    match (&doc.set_id, doc.version) {
        (Some(set), 1) if set.root == doc.id.root && set.extension != doc.id.extension => p.push(
            "document.set_id",
            "for version 1 a setId with the id's root must equal the id (or be left out)",
        ),
        (Some(set), v) if v > 1 && set.root == doc.id.root && set.extension == doc.id.extension => {
            p.push(
                "document.set_id",
                "after version 1 the id must differ from the setId: give the new version a new id",
            )
        }
        (None, v) if v > 1 => p.push(
            "document.set_id",
            "required when version > 1: the set of the first version",
        ),
        (Some(set), _) => set.check(p, "document.set_id"),
        _ => {}
    }
    match (&doc.replaces, doc.version) {
        (None, v) if v > 1 => p.push(
            "document.replaces",
            "required when version > 1: the document this one replaces",
        ),
        (Some(_), 1) => p.push("document.replaces", "a replacement has a version > 1"),
        (Some(parent), _) => {
            parent.id.check(p, "document.replaces.id");
            if parent.id == doc.id {
                p.push("document.replaces.id", "is the document's own id");
            }
            if !matches!(parent.relation.as_str(), "RPLC" | "APND") {
                p.push("document.replaces.relation", "must be RPLC or APND");
            }
            if let Some(v) = parent.version
                && v >= doc.version
            {
                p.push(
                    "document.replaces.version",
                    "must be lower than document.version",
                );
            }
        }
        _ => {}
    }

    check_patient(input, p);
    input.author.check(p, "author");
    if input.author.telecoms.is_empty() {
        p.push("author.telecoms", "the author needs at least one contact");
    }
    if let Some(d) = &input.data_enterer {
        d.check(p, "data_enterer");
    }
    input.custodian.check(p, "custodian");
    if input.custodian.telecoms.len() > 1 {
        p.push(
            "custodian.telecoms",
            "the custodian has at most one contact",
        );
    }
    input.legal_authenticator.check(p, "legal_authenticator");

    if matches!(kind, DocumentType::Lab | DocumentType::Rad) && input.orders.is_empty() {
        p.push(
            "orders",
            format!("a {kind} fulfils at least one order (inFulfillmentOf)"),
        );
    }
    for (i, order) in input.orders.iter().enumerate() {
        order.id.check(p, &format!("orders[{i}].id"));
        if let Some(priority) = &order.priority
            && !PRIORITIES.contains(&priority.as_str())
        {
            p.push(
                format!("orders[{i}].priority"),
                format!("{priority:?} is not an HL7 ActPriority code"),
            );
        }
    }

    if let Some(event) = &input.service_event {
        let allowed: &[&str] = match kind {
            DocumentType::Rad => &["PROG", "DIR", "RAD_PROG", "RAD_DIR"],
            DocumentType::Rsa => &["PROG", "DIR"],
            _ => &["PROG", "DIR", "RAD_PROG", "RAD_DIR", "AMB", "EMER", "IMP"],
        };
        match &event.code {
            Some(code) if !allowed.contains(&code.as_str()) => p.push(
                "service_event.code",
                format!("{code:?} is not one of {}", allowed.join(", ")),
            ),
            None if matches!(kind, DocumentType::Rad | DocumentType::Rsa) => p.push(
                "service_event.code",
                format!("a {kind} service event needs its access mode"),
            ),
            _ => {}
        }
        if let Some(end) = &event.end {
            check_interval(p, "service_event.end", &event.start, end);
        } else if kind == DocumentType::Vps {
            p.push(
                "service_event.end",
                "a VPS service event has a start and an end",
            );
        }
        if let Some(performer) = &event.performer {
            performer.check(p, "service_event.performer");
        }
    }

    match &input.encounter {
        None if matches!(
            kind,
            DocumentType::Rsa | DocumentType::Ldo | DocumentType::Vps
        ) =>
        {
            p.push(
                "encounter",
                format!("a {kind} belongs to an encounter (componentOf)"),
            );
        }
        Some(e) => check_encounter(kind, e, p),
        None => {}
    }
}

const PRIORITIES: &[&str] = &[
    "A", "CR", "CS", "CSP", "CSR", "EL", "EM", "P", "PRN", "R", "RR", "S", "T", "UD", "UR",
];

fn check_patient(input: &DocumentInput, p: &mut Problems) {
    let patient = &input.patient;
    if let Some(cf) = &patient.fiscal_code {
        super::types::check_personal_code(cf, p, "patient.fiscal_code");
    }
    let mut recognised = patient.fiscal_code.is_some();
    let mut kinds = Vec::new();
    for (i, id) in patient.ids.iter().enumerate() {
        let field = format!("patient.ids[{i}]");
        id.check(p, &field);
        let kind = PatientIdKind::from_root(id.root.as_str());
        if kind == PatientIdKind::FiscalCode {
            p.push(
                format!("{field}.root"),
                "give the fiscal code as patient.fiscal_code",
            );
        }
        recognised |= !matches!(kind, PatientIdKind::Other);
        kinds.push(id.root.as_str());
    }
    if !recognised {
        p.push(
            "patient.fiscal_code",
            "the patient needs a fiscal code, or an id of a kind the FSE knows (TEAM, STP, ENI, ANA, regional)",
        );
    }
    let team_card = kinds.contains(&crate::metadata::OID_TEAM);
    let team_institution = kinds.contains(&crate::metadata::OID_TEAM_INSTITUTION);
    if team_card != team_institution {
        p.push(
            "patient.ids",
            "a TEAM patient needs both the card number (…4.3.7) and the institution (…4.3.3)",
        );
    }
    patient.name.check(p, "patient.name");
    if !matches!(patient.gender.as_str(), "M" | "F" | "UN") {
        p.push("patient.gender", "must be M, F or UN");
    }
    if let Some(place) = &patient.birthplace {
        place.check(p, "patient.birthplace");
    }
    for (i, a) in patient.addresses.iter().enumerate() {
        a.check(p, &format!("patient.addresses[{i}]"), false);
    }
    for (i, t) in patient.telecoms.iter().enumerate() {
        t.check(p, &format!("patient.telecoms[{i}]"), false);
    }
}

fn check_encounter(kind: DocumentType, e: &Encounter, p: &mut Problems) {
    if let Some(id) = &e.id {
        id.check(p, "encounter.id");
    } else if kind == DocumentType::Ldo {
        p.push(
            "encounter.id",
            "an LDO names the admission (encompassingEncounter/id)",
        );
    }
    match &e.end {
        Some(end) => check_interval(p, "encounter.end", &e.start, end),
        None if kind == DocumentType::Ldo => {
            p.push("encounter.end", "an LDO's stay has a discharge time")
        }
        None => {}
    }
    if let Some(r) = &e.responsible {
        r.check(p, "encounter.responsible");
    }
    if let Some(a) = &e.admitted_by {
        a.check(p, "encounter.admitted_by");
    }
    e.facility.id.check(p, "encounter.facility.id");
    e.facility
        .organization
        .check(p, "encounter.facility.organization");
    if let Some(part_of) = &e.facility.part_of {
        part_of.check(p, "encounter.facility.part_of");
    }
}

/// `ClinicalDocument` with every header element, ready for the body.
pub(super) fn header(input: &DocumentInput) -> El {
    let kind = input.document_type();
    let doc = &input.document;
    let effective = &doc.effective_time;
    let mut cd = El::new("ClinicalDocument")
        .attr("xmlns", "urn:hl7-org:v3")
        .attr("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
        .child(El::new("realmCode").attr("code", "IT"))
        .child(
            El::new("typeId")
                .attr("root", "2.16.840.1.113883.1.3")
                .attr("extension", "POCD_MT000040UV02"),
        )
        .child(
            El::new("templateId")
                .attr("root", kind.template_root())
                .attr("extension", kind.template_version()),
        )
        .child(doc.id.element("id"))
        .child(
            El::new("code")
                .attr("code", kind.loinc())
                .attr("codeSystem", OID_LOINC)
                .attr("codeSystemName", "LOINC")
                .attr("displayName", kind.display_name()),
        )
        .child(
            El::new("title").text(
                doc.title
                    .clone()
                    .unwrap_or_else(|| kind.title().to_string()),
            ),
        )
        .child(El::new("effectiveTime").attr("value", effective.as_str()))
        .child(
            El::new("confidentialityCode")
                .attr("code", doc.confidentiality.as_str())
                .attr("codeSystem", OID_CONFIDENTIALITY)
                .attr("codeSystemName", "HL7 Confidentiality"),
        )
        .child(El::new("languageCode").attr("code", "it-IT"))
        .child(doc.set_id.as_ref().unwrap_or(&doc.id).element("setId"))
        .child(El::new("versionNumber").attr("value", doc.version.to_string()))
        .child(record_target(input))
        .child(
            El::new("author")
                .child(time(input.author.time.as_ref().unwrap_or(effective)))
                .child(input.author.entity("assignedAuthor", true)),
        );
    if let Some(enterer) = &input.data_enterer {
        cd.push(
            El::new("dataEnterer")
                .child(time(enterer.time.as_ref().unwrap_or(effective)))
                .child(enterer.entity("assignedEntity", true)),
        );
    }
    cd.push(
        El::new("custodian").child(
            El::new("assignedCustodian")
                .child(input.custodian.element("representedCustodianOrganization")),
        ),
    );
    let signer = &input.legal_authenticator;
    cd.push(
        El::new("legalAuthenticator")
            .child(time(signer.time.as_ref().unwrap_or(effective)))
            .child(El::new("signatureCode").attr("code", "S"))
            .child(signer.entity("assignedEntity", true)),
    );
    for order in &input.orders {
        let priority = order.priority.as_ref().map(|code| {
            El::new("priorityCode")
                .attr("code", code.clone())
                .attr("codeSystem", OID_PRIORITY)
                .attr("codeSystemName", "HL7 ActPriority")
        });
        cd.push(
            El::new("inFulfillmentOf").child(
                El::new("order")
                    .attr("classCode", "ACT")
                    .attr("moodCode", "RQO")
                    .child(order.id.element("id"))
                    .child_opt(priority),
            ),
        );
    }
    if let Some(event) = &input.service_event {
        let code = event.code.as_ref().map(|c| {
            El::new("code")
                .attr("code", c.clone())
                .attr("codeSystem", OID_ACT_CODE_IT)
                .attr("codeSystemName", "HL7 ActCode")
                .attr("displayName", access_mode_name(c))
        });
        let when = match &event.end {
            Some(end) => El::new("effectiveTime")
                .child(El::new("low").attr("value", event.start.as_str()))
                .child(El::new("high").attr("value", end.as_str())),
            None => El::new("effectiveTime").attr("value", event.start.as_str()),
        };
        let performer = event.performer.as_ref().map(|p| {
            El::new("performer")
                .attr("typeCode", "PRF")
                .child(p.entity("assignedEntity", false))
        });
        cd.push(
            El::new("documentationOf").child(
                El::new("serviceEvent")
                    .attr("moodCode", "EVN")
                    .child_opt(code)
                    .child(when)
                    .child_opt(performer),
            ),
        );
    }
    if let Some(parent) = &doc.replaces {
        cd.push(
            El::new("relatedDocument")
                .attr("typeCode", parent.relation.clone())
                .child(
                    El::new("parentDocument")
                        .child(parent.id.element("id"))
                        .child_opt(parent.set_id.as_ref().map(|s| s.element("setId")))
                        .child_opt(
                            parent
                                .version
                                .map(|v| El::new("versionNumber").attr("value", v.to_string())),
                        ),
                ),
        );
    }
    if let Some(e) = &input.encounter {
        cd.push(El::new("componentOf").child(encounter(e)));
    }
    cd
}

fn access_mode_name(code: &str) -> &'static str {
    match code {
        "PROG" => "Accesso Programmato",
        "DIR" => "Accesso Diretto",
        "RAD_PROG" => "Accesso Programmato (Radiologia)",
        "RAD_DIR" => "Accesso Diretto (Radiologia)",
        "AMB" => "ambulatory",
        "EMER" => "emergency",
        "IMP" => "inpatient encounter",
        _ => "",
    }
}

pub(crate) fn time(at: &Timestamp) -> El {
    El::new("time").attr("value", at.as_str())
}

fn record_target(input: &DocumentInput) -> El {
    let patient = &input.patient;
    let mut role = El::new("patientRole");
    if let Some(cf) = &patient.fiscal_code {
        role.push(fiscal_code_id(cf));
    }
    for id in &patient.ids {
        role.push(id.element("id"));
    }
    // RAD wants the patient's PACS id beside the national one (ERRORE-10a),
    // and allows a null flavor when the provider has none.
    let given = usize::from(patient.fiscal_code.is_some()) + patient.ids.len();
    if input.document_type() == DocumentType::Rad && given < 2 {
        role.push(El::new("id").attr("nullFlavor", "NI"));
    }
    for a in &patient.addresses {
        role.push(a.element());
    }
    for t in &patient.telecoms {
        role.push(t.element());
    }
    let gender_name = match patient.gender.as_str() {
        "M" => "Maschio",
        "F" => "Femmina",
        _ => "Indifferenziato",
    };
    let birth = match &patient.birth_time {
        Some(t) => El::new("birthTime").attr("value", t.as_str()),
        None => El::new("birthTime").attr("nullFlavor", "UNK"),
    };
    role.push(
        El::new("patient")
            .child(patient.name.element())
            .child(
                El::new("administrativeGenderCode")
                    .attr("code", patient.gender.clone())
                    .attr("codeSystem", "2.16.840.1.113883.5.1")
                    .attr("codeSystemName", "HL7 AdministrativeGender")
                    .attr("displayName", gender_name),
            )
            .child(birth)
            .child_opt(patient.birthplace.as_ref().map(super::Birthplace::element)),
    );
    El::new("recordTarget").child(role)
}

fn encounter(e: &Encounter) -> El {
    let when = match &e.end {
        Some(end) => El::new("effectiveTime")
            .child(El::new("low").attr("value", e.start.as_str()))
            .child(El::new("high").attr("value", end.as_str())),
        None => El::new("effectiveTime").attr("value", e.start.as_str()),
    };
    let person = |p: &Professional| p.entity("assignedEntity", false);
    let facility = &e.facility;
    let mut provider = facility.organization.element("serviceProviderOrganization");
    if let Some(part_of) = &facility.part_of {
        provider.push(El::new("asOrganizationPartOf").child(part_of.element("id")));
    }
    El::new("encompassingEncounter")
        .child_opt(e.id.as_ref().map(|i| i.element("id")))
        .child(when)
        .child_opt(
            e.responsible
                .as_ref()
                .map(|r| El::new("responsibleParty").child(person(r))),
        )
        .child_opt(e.admitted_by.as_ref().map(|a| {
            El::new("encounterParticipant")
                .attr("typeCode", "ADM")
                .child(person(a))
        }))
        .child(
            El::new("location").child(
                El::new("healthCareFacility")
                    .child(facility.id.element("id"))
                    .child_opt(
                        facility
                            .name
                            .as_ref()
                            .map(|n| El::new("location").child(El::new("name").text(n.clone()))),
                    )
                    .child(provider),
            ),
        )
}
