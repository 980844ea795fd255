//! Small value types of the builder's input: timestamps, codes, names,
//! addresses, contacts, identifiers.

use std::fmt;

use fse_model::{FiscalCode, Oid};
use serde::{Deserialize, Deserializer};

use super::Problems;
use super::xml::El;

/// An HL7 `TS` point in time, kept in the HL7 form
/// `YYYY[MM[DD[HHMM[SS]]]][±ZZZZ]`.
///
/// Parsed from that form or from ISO 8601 (`2024-03-12`,
/// `2024-03-12T10:30`, `2024-03-12T10:30:15+01:00`, `…Z`). A value with a
/// time of day must carry its offset: the schematrons compare
/// `effectiveTime` bounds as strings, which is only sound when both have
/// the same form.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(String);

impl Timestamp {
    /// Parses either form.
    ///
    /// # Errors
    /// A message saying what is wrong.
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        let hl7 = if value.contains(['-', ':', 'T'])
            && value.len() >= 10
            && value.as_bytes().get(4) == Some(&b'-')
        {
            iso_to_hl7(value)?
        } else {
            value.to_string()
        };
        check_hl7(&hl7)?;
        Ok(Self(hl7))
    }

    /// The HL7 form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the value has a time of day (not only a date).
    pub fn has_time(&self) -> bool {
        self.digits().len() > 8
    }

    fn digits(&self) -> &str {
        self.0.split(['+', '-']).next().unwrap_or(&self.0)
    }

    /// `dd/mm/yyyy[ hh:mm]`, for the narrative text.
    pub fn display(&self) -> String {
        let d = self.digits();
        let part = |r: std::ops::Range<usize>| d.get(r).unwrap_or("");
        let mut out = match d.len() {
            4 => part(0..4).to_string(),
            6 => format!("{}/{}", part(4..6), part(0..4)),
            _ => format!("{}/{}/{}", part(6..8), part(4..6), part(0..4)),
        };
        if d.len() >= 12 {
            out.push_str(&format!(" {}:{}", part(8..10), part(10..12)));
        }
        out
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Timestamp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

fn iso_to_hl7(value: &str) -> Result<String, String> {
    let bad = || format!("{value:?} is not an ISO 8601 date or date-time");
    let (date, rest) = value.split_once('T').unwrap_or((value, ""));
    let mut out: String = date.split('-').collect();
    if out.len() != 8 || date.len() != 10 {
        return Err(bad());
    }
    if rest.is_empty() {
        return Ok(out);
    }
    let zone_at = rest
        .find(['+', '-', 'Z'])
        .ok_or_else(|| format!("{value:?} has a time but no offset (add Z or ±hh:mm)"))?;
    let (clock, zone) = rest.split_at(zone_at);
    let clock = clock.split('.').next().unwrap_or(clock);
    let clock: String = clock.split(':').collect();
    if clock.len() != 4 && clock.len() != 6 {
        return Err(bad());
    }
    out.push_str(&clock);
    if zone == "Z" {
        out.push_str("+0000");
    } else {
        let zone: String = zone.split(':').collect();
        if zone.len() != 5 {
            return Err(bad());
        }
        out.push_str(&zone);
    }
    Ok(out)
}

fn check_hl7(value: &str) -> Result<(), String> {
    let bad = |why: &str| format!("{value:?} is not a timestamp: {why}");
    let (digits, zone) = match value.find(['+', '-']) {
        Some(at) => (&value[..at], Some(&value[at + 1..])),
        None => (value, None),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !matches!(digits.len(), 4 | 6 | 8 | 12 | 14) {
        return Err(bad("expected YYYY[MM[DD[HHMM[SS]]]] digits"));
    }
    let num = |r: std::ops::Range<usize>| digits.get(r).and_then(|s| s.parse::<u32>().ok());
    if let Some(month) = num(4..6)
        && !(1..=12).contains(&month)
    {
        return Err(bad("month out of range"));
    }
    if let (Some(year), Some(month), Some(day)) = (num(0..4), num(4..6), num(6..8)) {
        let valid = time::Month::try_from(u8::try_from(month).unwrap_or(0))
            .ok()
            .and_then(|m| {
                time::Date::from_calendar_date(
                    i32::try_from(year).unwrap_or(0),
                    m,
                    u8::try_from(day).unwrap_or(0),
                )
                .ok()
            });
        if valid.is_none() {
            return Err(bad("no such day"));
        }
    }
    if num(8..10).is_some_and(|h| h > 23)
        || num(10..12).is_some_and(|m| m > 59)
        || num(12..14).is_some_and(|s| s > 59)
    {
        return Err(bad("time of day out of range"));
    }
    match zone {
        Some(z) => {
            let ok = z.len() == 4
                && z.bytes().all(|b| b.is_ascii_digit())
                && z.get(0..2)
                    .and_then(|h| h.parse::<u32>().ok())
                    .is_some_and(|h| h <= 14)
                && z.get(2..4)
                    .and_then(|m| m.parse::<u32>().ok())
                    .is_some_and(|m| m <= 59);
            if !ok {
                return Err(bad("the offset must be ±HHMM"));
            }
            if digits.len() < 12 {
                return Err(bad("an offset needs a time of day"));
            }
        }
        None if digits.len() > 8 => return Err(bad("a time of day needs an offset (±HHMM)")),
        None => {}
    }
    Ok(())
}

/// A coded value: `code` in a code system, with its display name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coded {
    /// The code.
    pub code: String,
    /// The code system's OID; where a field implies one, it may be left out.
    #[serde(default)]
    pub system: Option<Oid>,
    /// The code system's name (e.g. `LOINC`); filled in for known systems.
    #[serde(default)]
    pub system_name: Option<String>,
    /// The human-readable meaning, shown in the narrative.
    #[serde(default)]
    pub display: Option<String>,
}

impl Coded {
    /// A code in a known system.
    pub fn new(code: &str, system: &str, display: &str) -> Self {
        Self {
            code: code.to_string(),
            system: Oid::parse(system).ok(),
            system_name: None,
            display: Some(display.to_string()),
        }
    }

    /// The system to write: the given one, else the field's default.
    pub(crate) fn system_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.system.as_ref().map_or(default, Oid::as_str)
    }

    /// The text shown for this code in the narrative.
    pub(crate) fn label(&self) -> &str {
        self.display.as_deref().unwrap_or(&self.code)
    }

    /// A `<name code=… codeSystem=… codeSystemName=… displayName=…/>` element.
    pub(crate) fn element(&self, name: &str, default_system: &str) -> El {
        let system = self.system_or(default_system);
        El::new(name)
            .attr("code", self.code.clone())
            .attr("codeSystem", system)
            .attr_opt(
                "codeSystemName",
                self.system_name
                    .clone()
                    .or_else(|| system_name(system).map(str::to_string)),
            )
            .attr_opt("displayName", self.display.clone())
    }

    pub(crate) fn check(&self, p: &mut Problems, field: &str) {
        if self.code.trim().is_empty() {
            p.push(format!("{field}.code"), "must not be empty");
        }
    }

    /// Requires the system, when given, to be `expected`.
    pub(crate) fn check_system(&self, p: &mut Problems, field: &str, expected: &[&str]) {
        if let Some(system) = &self.system
            && !expected.contains(&system.as_str())
        {
            p.push(
                format!("{field}.system"),
                format!("must be {}", expected.join(" or ")),
            );
        }
    }
}

/// Names of the code systems the builder writes.
pub(crate) fn system_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.16.840.1.113883.6.1" => "LOINC",
        "2.16.840.1.113883.6.103" => "ICD-9-CM",
        "2.16.840.1.113883.6.73" => "ATC",
        "2.16.840.1.113883.2.9.6.1.5" => "AIC",
        "2.16.840.1.113883.5.83" => "HL7 ObservationInterpretation",
        "2.16.840.1.113883.5.129" => "HL7 SpecimenType",
        "2.16.840.1.113883.5.84" => "HL7 ObservationMethod",
        "2.16.840.1.113883.5.4" => "HL7 ActCode",
        "2.16.840.1.113883.5.1063" => "HL7 ObservationValue",
        "2.16.840.1.113883.5.111" => "HL7 RoleCode",
        "2.16.840.1.113883.5.1" => "HL7 AdministrativeGender",
        "2.16.840.1.113883.5.25" => "HL7 Confidentiality",
        "2.16.840.1.113883.5.7" => "HL7 ActPriority",
        "2.16.840.1.113883.5.112" => "HL7 RouteOfAdministration",
        "2.16.840.1.113883.2.9.5.1.4" => "HL7 ActCode",
        "2.16.840.1.113883.2.9.77.22.11.2" => "Allergeni (No Farmaci)",
        "2.16.840.1.113883.2.9.6.1.54.1" => "ResponsabileInvio_VPS",
        "2.16.840.1.113883.2.9.6.1.54.2" => "ProblemaPrincipale_VPS",
        "2.16.840.1.113883.2.9.6.1.54.4" => "CodiceTriage_VPS",
        "2.16.840.1.113883.2.9.6.1.54.5" => "EsitoTrattamento_VPS",
        "2.16.840.1.113883.2.9.6.1.54.6" => "ModalitaTrasporto_VPS",
        "1.2.840.10008.2.16.4" => "DCM",
        _ => return None,
    })
}

/// A person's name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonName {
    /// Given name(s).
    pub given: String,
    /// Family name.
    pub family: String,
    /// A title such as `Dott.`.
    #[serde(default)]
    pub prefix: Option<String>,
}

impl PersonName {
    pub(crate) fn element(&self) -> El {
        El::new("name")
            .child_opt(
                self.prefix
                    .as_ref()
                    .map(|p| El::new("prefix").text(p.clone())),
            )
            .child(El::new("given").text(self.given.clone()))
            .child(El::new("family").text(self.family.clone()))
    }

    /// `Dott. Mario Rossi`.
    pub(crate) fn display(&self) -> String {
        match &self.prefix {
            Some(p) => format!("{p} {} {}", self.given, self.family),
            None => format!("{} {}", self.given, self.family),
        }
    }

    pub(crate) fn check(&self, p: &mut Problems, field: &str) {
        if self.given.trim().is_empty() {
            p.push(format!("{field}.given"), "must not be empty");
        }
        if self.family.trim().is_empty() {
            p.push(format!("{field}.family"), "must not be empty");
        }
    }
}

/// A postal address (Italian form: ISTAT codes where the IGs want them).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// `H` home, `HP` primary home, `TMP` temporary, `WP` work place.
    #[serde(default, rename = "use")]
    pub use_code: Option<String>,
    /// Country: the ISTAT code, `100` for Italy.
    #[serde(default = "italy")]
    pub country: String,
    /// Region code (e.g. `090` for Toscana).
    #[serde(default)]
    pub state: Option<String>,
    /// Province abbreviation (e.g. `FI`).
    #[serde(default)]
    pub county: Option<String>,
    /// City name.
    pub city: String,
    /// ISTAT code of the municipality.
    #[serde(default)]
    pub census_tract: Option<String>,
    /// Postal code.
    #[serde(default)]
    pub postal_code: Option<String>,
    /// Street and number.
    pub street: String,
}

fn italy() -> String {
    "100".to_string()
}

impl Address {
    pub(crate) fn element(&self) -> El {
        let part =
            |name: &str, v: &Option<String>| v.as_ref().map(|v| El::new(name).text(v.clone()));
        El::new("addr")
            .attr_opt("use", self.use_code.clone())
            .child(El::new("country").text(self.country.clone()))
            .child_opt(part("state", &self.state))
            .child_opt(part("county", &self.county))
            .child(El::new("city").text(self.city.clone()))
            .child_opt(part("censusTract", &self.census_tract))
            .child_opt(part("postalCode", &self.postal_code))
            .child(El::new("streetAddressLine").text(self.street.clone()))
    }

    pub(crate) fn check(&self, p: &mut Problems, field: &str, organization: bool) {
        for (name, value) in [
            ("country", &self.country),
            ("city", &self.city),
            ("street", &self.street),
        ] {
            if value.trim().is_empty() {
                p.push(format!("{field}.{name}"), "must not be empty");
            }
        }
        if let Some(u) = &self.use_code {
            if !matches!(
                u.as_str(),
                "H" | "HP" | "HV" | "TMP" | "WP" | "DIR" | "PUB" | "BAD" | "PHYS" | "PST"
            ) {
                p.push(
                    format!("{field}.use"),
                    format!("{u:?} is not an HL7 address use"),
                );
            } else if organization && matches!(u.as_str(), "H" | "HP" | "HV") {
                p.push(
                    format!("{field}.use"),
                    "an organisation's address cannot be a home (H, HP, HV)",
                );
            }
        }
    }
}

/// A birthplace: where in Italy (city and ISTAT code), or the country.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Birthplace {
    /// Country: the ISTAT code, `100` for Italy.
    #[serde(default = "italy")]
    pub country: String,
    /// Province abbreviation.
    #[serde(default)]
    pub county: Option<String>,
    /// City name (required for Italy).
    #[serde(default)]
    pub city: Option<String>,
    /// ISTAT code of the municipality (required for Italy).
    #[serde(default)]
    pub census_tract: Option<String>,
}

impl Birthplace {
    pub(crate) fn element(&self) -> El {
        let part =
            |name: &str, v: &Option<String>| v.as_ref().map(|v| El::new(name).text(v.clone()));
        El::new("birthplace").child(
            El::new("place").child(
                El::new("addr")
                    .child(El::new("country").text(self.country.clone()))
                    .child_opt(part("county", &self.county))
                    .child_opt(part("city", &self.city))
                    .child_opt(part("censusTract", &self.census_tract)),
            ),
        )
    }

    pub(crate) fn check(&self, p: &mut Problems, field: &str) {
        if self.country == "100" {
            if self.city.as_deref().is_none_or(|c| c.trim().is_empty()) {
                p.push(
                    format!("{field}.city"),
                    "required when born in Italy (country 100)",
                );
            }
            if self
                .census_tract
                .as_deref()
                .is_none_or(|c| c.trim().is_empty())
            {
                p.push(
                    format!("{field}.census_tract"),
                    "required when born in Italy: the ISTAT code of the municipality",
                );
            }
        }
    }
}

/// A phone number, e-mail or other contact.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Telecom {
    /// `HP` home, `WP` work place, `MC` mobile, `EC` emergency, …
    #[serde(rename = "use")]
    pub use_code: String,
    /// A URI: `tel:+39…`, `mailto:…`, `fax:…`.
    pub value: String,
}

impl Telecom {
    pub(crate) fn element(&self) -> El {
        El::new("telecom")
            .attr("use", self.use_code.clone())
            .attr("value", self.value.clone())
    }

    pub(crate) fn check(&self, p: &mut Problems, field: &str, organization: bool) {
        if !matches!(
            self.use_code.as_str(),
            "H" | "HP" | "HV" | "WP" | "DIR" | "PUB" | "MC" | "PG" | "EC" | "AS" | "TMP" | "BAD"
        ) {
            p.push(
                format!("{field}.use"),
                format!("{:?} is not an HL7 telecom use", self.use_code),
            );
        } else if organization && matches!(self.use_code.as_str(), "H" | "HP" | "HV") {
            p.push(
                format!("{field}.use"),
                "an organisation's contact cannot be a home (H, HP, HV)",
            );
        }
        let scheme_ok = ["tel:", "mailto:", "fax:", "http:", "https:"]
            .iter()
            .any(|s| self.value.starts_with(s));
        if !scheme_ok || self.value.len() < 6 {
            p.push(
                format!("{field}.value"),
                "must be a URI: tel:…, mailto:…, fax:… or http(s):…",
            );
        }
    }
}

/// An identifier: an OID root and an extension.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identifier {
    /// The OID of the authority that assigned it.
    pub root: Oid,
    /// The identifier itself.
    pub extension: String,
    /// The authority's name, shown as `assigningAuthorityName`.
    #[serde(default)]
    pub authority_name: Option<String>,
}

impl Identifier {
    pub(crate) fn element(&self, name: &str) -> El {
        El::new(name)
            .attr("root", self.root.as_str())
            .attr("extension", self.extension.clone())
            .attr_opt(
                "assigningAuthorityName",
                self.authority_name
                    .clone()
                    .or_else(|| authority_name(self.root.as_str()).map(str::to_string)),
            )
    }

    pub(crate) fn check(&self, p: &mut Problems, field: &str) {
        if self.extension.trim().is_empty() {
            p.push(format!("{field}.extension"), "must not be empty");
        }
        if self.root.arcs().any(|a| a == "999" || a == "9999") {
            p.push(
                format!("{field}.root"),
                "an OID with a 999 or 9999 arc is refused by the Gateway",
            );
        }
    }
}

/// Names the IGs give the authorities of the usual roots.
fn authority_name(root: &str) -> Option<&'static str> {
    match root {
        "2.16.840.1.113883.2.9.4.3.2" => Some("MEF"),
        "2.16.840.1.113883.2.9.4.1.1"
        | "2.16.840.1.113883.2.9.4.1.2"
        | "2.16.840.1.113883.2.9.4.1.3"
        | "2.16.840.1.113883.2.9.4.1.6" => Some("Ministero della Salute"),
        _ => None,
    }
}

/// A healthcare professional: fiscal code and name, contacts optional.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Professional {
    /// The professional's fiscal code (16 characters).
    pub fiscal_code: FiscalCode,
    /// The name.
    pub name: PersonName,
    /// Contacts.
    #[serde(default)]
    pub telecoms: Vec<Telecom>,
    /// Address.
    #[serde(default)]
    pub address: Option<Address>,
    /// When the participation happened, where it has a time (author, data
    /// enterer, legal authenticator): defaults to the document's effective
    /// time.
    #[serde(default)]
    pub time: Option<Timestamp>,
}

impl Professional {
    /// `<id root=CF/>` then addr, telecoms, and `assignedPerson/name`, in the order CDA wants.
    pub(crate) fn entity(&self, name: &str, with_contacts: bool) -> El {
        let mut el = El::new(name).child(fiscal_code_id(&self.fiscal_code));
        if with_contacts {
            el = el
                .child_opt(self.address.as_ref().map(Address::element))
                .children(self.telecoms.iter().map(Telecom::element));
        }
        el.child(El::new("assignedPerson").child(self.name.element()))
    }

    pub(crate) fn check(&self, p: &mut Problems, field: &str) {
        check_personal_code(&self.fiscal_code, p, &format!("{field}.fiscal_code"));
        self.name.check(p, &format!("{field}.name"));
        for (i, t) in self.telecoms.iter().enumerate() {
            t.check(p, &format!("{field}.telecoms[{i}]"), false);
        }
        if let Some(a) = &self.address {
            a.check(p, &format!("{field}.address"), false);
        }
    }
}

/// `<id root="2.16.840.1.113883.2.9.4.3.2" extension=CF assigningAuthorityName="MEF"/>`.
pub(crate) fn fiscal_code_id(cf: &FiscalCode) -> El {
    El::new("id")
        .attr("root", crate::metadata::OID_FISCAL_CODE)
        .attr("extension", cf.as_str())
        .attr("assigningAuthorityName", "MEF")
}

/// The schematrons want 16 characters `[A-Z0-9]` under the fiscal-code OID:
/// an 11-digit temporary code does not pass.
pub(crate) fn check_personal_code(cf: &FiscalCode, p: &mut Problems, field: &str) {
    if cf.kind() != fse_model::FiscalCodeKind::Personal {
        p.push(
            field.to_string(),
            "must be a 16-character personal fiscal code (the schematrons refuse 11-digit codes)",
        );
    }
}

/// An organisation: id, name, contacts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    /// Its identifier (e.g. the Ministry of Health code of a facility).
    pub id: Identifier,
    /// Its name.
    pub name: String,
    /// Contacts (work place: not `H`, `HP`, `HV`).
    #[serde(default)]
    pub telecoms: Vec<Telecom>,
    /// Address.
    #[serde(default)]
    pub address: Option<Address>,
}

impl Organization {
    pub(crate) fn element(&self, name: &str) -> El {
        El::new(name)
            .child(self.id.element("id"))
            .child(El::new("name").text(self.name.clone()))
            .children(self.telecoms.iter().map(Telecom::element))
            .child_opt(self.address.as_ref().map(Address::element))
    }

    pub(crate) fn check(&self, p: &mut Problems, field: &str) {
        self.id.check(p, &format!("{field}.id"));
        if self.name.trim().is_empty() {
            p.push(format!("{field}.name"), "must not be empty");
        }
        for (i, t) in self.telecoms.iter().enumerate() {
            t.check(p, &format!("{field}.telecoms[{i}]"), true);
        }
        if let Some(a) = &self.address {
            a.check(p, &format!("{field}.address"), true);
        }
    }
}

/// Checks that `high` is not before `low`, as the schematrons compare
/// them: as strings, so the two must also have the same form.
pub(crate) fn check_interval(p: &mut Problems, field: &str, low: &Timestamp, high: &Timestamp) {
    if high.as_str().len() != low.as_str().len() {
        p.push(
            field.to_string(),
            format!("{low} and {high} must have the same precision and an offset each"),
        );
    } else if high.as_str() < low.as_str() {
        p.push(
            field.to_string(),
            format!("ends ({high}) before it starts ({low})"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_from_hl7_and_iso() {
        let ok = [
            ("20240312", "20240312"),
            ("2024-03-12", "20240312"),
            ("2024-03-12T10:30+01:00", "202403121030+0100"),
            ("2024-03-12T10:30:15Z", "20240312103015+0000"),
            ("2024-03-12T10:30:15.250-05:00", "20240312103015-0500"),
            ("20240312103015+0100", "20240312103015+0100"),
            ("2024", "2024"),
        ];
        for (input, hl7) in ok {
            assert_eq!(
                Timestamp::parse(input).map(|t| t.0),
                Ok(hl7.to_string()),
                "{input}"
            );
        }
        for bad in [
            "",
            "2024-02-30",
            "20241301",
            "2024-03-12T10:30",
            "20240312103015",
            "202403121030+01",
            "x",
            "20240312+0100",
            "2024-03-12T25:00Z",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps_display_for_people() {
        assert_eq!(
            Timestamp::parse("20240312103015+0100").unwrap().display(),
            "12/03/2024 10:30"
        );
        assert_eq!(
            Timestamp::parse("20240312").unwrap().display(),
            "12/03/2024"
        );
    }
}
