//! `fse cda info|hash|new|example|replace`: reading and writing CDA2 documents.
//!
//! Each command is a function from input bytes to output text
//! ([`info`], [`hash`], [`new_document`], [`example`], [`replace`]), so it is
//! tested without a process; [`run`] only reads the files and writes the
//! result to `-o FILE` or standard output.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use fse_cda::builder::{self, DocumentType};
use fse_cda::metadata::InstanceId;
use fse_cda::replace::{ReplaceOptions, Replacement};
use fse_cda::{Metadata, cda_match_hash_bytes};

use crate::GlobalArgs;

/// The document subcommands of `fse cda`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the metadata the Gateway reads from a CDA2, as JSON.
    Info {
        /// The CDA2 file.
        file: PathBuf,
    },
    /// Print the cda-match hash: what the Gateway stores at validation and
    /// compares at publication (SHA-256, Base64).
    Hash {
        /// The CDA2 file.
        file: PathBuf,
    },
    /// Build a CDA2 from a JSON input (see docs/cda-builder.md).
    New {
        /// The document type: LAB, RAD, RSA, LDO or VPS (default: the input's `type`).
        #[arg(long = "type", value_name = "TYPE", value_parser = parse_type)]
        document_type: Option<DocumentType>,
        /// The JSON input.
        #[arg(long, value_name = "FILE.json")]
        data: PathBuf,
        /// Where to write the document (default: standard output).
        #[arg(short, long, value_name = "OUT.xml")]
        output: Option<PathBuf>,
    },
    /// Write the complete example of a type, or its JSON input.
    Example {
        /// The document type: LAB, RAD, RSA, LDO or VPS.
        #[arg(long = "type", value_name = "TYPE", value_parser = parse_type)]
        document_type: DocumentType,
        /// Write the JSON input instead of the document.
        #[arg(long)]
        json: bool,
        /// Where to write (default: standard output).
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
    },
    /// Write the next version of a document: new id, same setId,
    /// versionNumber + 1, relatedDocument RPLC to the old id.
    Replace {
        /// The document to replace.
        file: PathBuf,
        /// The new id: `EXTENSION` (under the set's root) or `ROOT^EXTENSION`
        /// (default: `<set extension>.v<version>`).
        #[arg(long, value_name = "ID")]
        id: Option<String>,
        /// The new version's effectiveTime (HL7 `YYYYMMDDHHMMSS±ZZZZ` or ISO 8601).
        #[arg(long, value_name = "TIME")]
        effective_time: Option<String>,
        /// Where to write the new version (default: standard output).
        #[arg(short, long, value_name = "OUT.xml")]
        output: Option<PathBuf>,
    },
}

fn parse_type(value: &str) -> Result<DocumentType, String> {
    value.parse().map_err(|e: fse_cda::Error| e.to_string())
}

/// `fse cda info`: the metadata as pretty JSON.
///
/// # Errors
/// When the document does not parse or lacks its id or code.
pub fn info(cda: &[u8]) -> anyhow::Result<String> {
    let metadata = Metadata::from_bytes(cda)?;
    Ok(serde_json::to_string_pretty(&metadata)? + "\n")
}

/// `fse cda hash`: the cda-match hash and a newline.
///
/// # Errors
/// When the document does not parse.
pub fn hash(cda: &[u8]) -> anyhow::Result<String> {
    Ok(cda_match_hash_bytes(cda)? + "\n")
}

/// `fse cda new`: the document built from JSON input.
///
/// # Errors
/// The builder's error, naming the field.
pub fn new_document(document_type: Option<DocumentType>, json: &str) -> anyhow::Result<String> {
    Ok(builder::build_json(document_type, json)?)
}

/// `fse cda example`: the example document of a type, or its JSON input.
///
/// # Errors
/// Only if the shipped example were broken.
pub fn example(document_type: DocumentType, json: bool) -> anyhow::Result<String> {
    if json {
        Ok(document_type.example_json().to_string())
    } else {
        Ok(builder::example(document_type)?)
    }
}

/// `fse cda replace`: the next version.
///
/// # Errors
/// A malformed `--id` or time, or what [`fse_cda::replace::replace`] refuses.
pub fn replace(
    cda: &[u8],
    id: Option<&str>,
    effective_time: Option<&str>,
) -> anyhow::Result<Replacement> {
    let doc = fse_cda::xml::Document::parse(cda)?;
    let new_id = match id {
        None => None,
        Some(id) => {
            let (root, extension) = match id.split_once('^') {
                Some((root, extension)) => (root.to_string(), extension.to_string()),
                None => {
                    let meta = Metadata::from_document(&doc)?;
                    let set = meta.set_id.unwrap_or(meta.document_id);
                    (set.root, id.to_string())
                }
            };
            fse_model::Oid::parse(&root).context("the root of --id")?;
            anyhow::ensure!(!extension.trim().is_empty(), "--id has an empty extension");
            Some(InstanceId::new(root, extension))
        }
    };
    let effective_time = effective_time
        .map(|t| builder::Timestamp::parse(t).map(|t| t.as_str().to_string()))
        .transpose()
        .map_err(|e| anyhow::anyhow!("--effective-time: {e}"))?;
    Ok(fse_cda::replace::replace(
        &doc,
        &ReplaceOptions {
            new_id,
            effective_time,
        },
    )?)
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn emit(output: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match output {
        Some(path) if path != Path::new("-") => {
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
        }
        _ => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .context("cannot write to standard output"),
    }
}

/// Runs a document subcommand.
///
/// # Errors
/// I/O errors, and the command's own (see each function).
pub fn run(command: Command, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    match command {
        Command::Info { file } => emit(
            None,
            &info(&read(&file)?).with_context(|| file.display().to_string())?,
        )?,
        Command::Hash { file } => emit(
            None,
            &hash(&read(&file)?).with_context(|| file.display().to_string())?,
        )?,
        Command::New {
            document_type,
            data,
            output,
        } => {
            let json = String::from_utf8(read(&data)?)
                .with_context(|| format!("{} is not UTF-8", data.display()))?;
            let xml =
                new_document(document_type, &json).with_context(|| data.display().to_string())?;
            emit(output.as_deref(), &xml)?;
        }
        Command::Example {
            document_type,
            json,
            output,
        } => emit(output.as_deref(), &example(document_type, json)?)?,
        Command::Replace {
            file,
            id,
            effective_time,
            output,
        } => {
            let replacement = replace(&read(&file)?, id.as_deref(), effective_time.as_deref())
                .with_context(|| file.display().to_string())?;
            emit(output.as_deref(), &replacement.xml)?;
            if output.as_deref().is_some_and(|p| p != Path::new("-")) {
                eprintln!(
                    "version {} of set {}: new id {} replaces {}",
                    replacement.version_number,
                    replacement.set_id,
                    replacement.new_id,
                    replacement.replaced_id
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[test]
    fn info_prints_the_metadata_as_json() {
        let xml = example(DocumentType::Ldo, false).unwrap();
        let json: serde_json::Value = serde_json::from_str(&info(xml.as_bytes()).unwrap()).unwrap();
        assert_eq!(json["code"], "34105-7");
        assert_eq!(json["document_class"], "LDO");
        assert_eq!(
            json["resource_hl7_type"],
            "('34105-7^^2.16.840.1.113883.6.1')"
        );
        assert_eq!(json["patient_fiscal_code"], "FTTLRA52M45D612J");
        assert!(info(b"<x/>").is_err());
    }

    #[test]
    fn hash_prints_the_cda_match_hash() {
        let xml = example(DocumentType::Rad, false).unwrap();
        let out = hash(xml.as_bytes()).unwrap();
        assert_eq!(
            out.trim_end(),
            fse_cda::cda_match_hash_bytes(xml.as_bytes()).unwrap()
        );
        assert!(out.ends_with('\n'));
    }

    #[test]
    fn new_builds_from_json_and_names_bad_fields() {
        let xml = new_document(Some(DocumentType::Vps), DocumentType::Vps.example_json()).unwrap();
        assert_eq!(xml, example(DocumentType::Vps, false).unwrap());
        let bad = DocumentType::Vps
            .example_json()
            .replace("\"CSOPLA68T10D612M\"", "\"CSOPLA68T10D612A\"");
        let err = new_document(None, &bad).unwrap_err();
        assert!(
            format!("{err:#}").contains("patient.fiscal_code"),
            "{err:#}"
        );
    }

    #[test]
    fn example_writes_the_document_or_its_input() {
        assert!(
            example(DocumentType::Lab, false)
                .unwrap()
                .starts_with("<?xml")
        );
        assert!(
            example(DocumentType::Lab, true)
                .unwrap()
                .trim_start()
                .starts_with('{')
        );
    }

    #[test]
    fn replace_takes_an_extension_or_a_whole_id() {
        let xml = example(DocumentType::Rsa, false).unwrap();
        let r = replace(
            xml.as_bytes(),
            Some("NUOVO.1"),
            Some("2024-04-01T10:00:00+02:00"),
        )
        .unwrap();
        assert_eq!(
            r.new_id.to_string(),
            "2.16.840.1.113883.2.9.2.90.4.4^NUOVO.1"
        );
        let meta = Metadata::from_bytes(r.xml.as_bytes()).unwrap();
        assert_eq!(meta.effective_time.as_deref(), Some("20240401100000+0200"));
        let r = replace(
            xml.as_bytes(),
            Some("2.16.840.1.113883.2.9.2.90.4.4^ALTRO"),
            None,
        )
        .unwrap();
        assert_eq!(r.new_id.extension.as_deref(), Some("ALTRO"));
        assert!(replace(xml.as_bytes(), Some("x.y^Z"), None).is_err());
        assert!(replace(xml.as_bytes(), None, Some("ieri")).is_err());
    }

    #[test]
    fn the_command_line_parses() {
        let cli = crate::Cli::try_parse_from([
            "fse", "cda", "new", "--type", "lab", "--data", "in.json", "-o", "out.xml",
        ])
        .unwrap();
        let crate::Command::Cda(args) = cli.command else {
            panic!()
        };
        let super::super::CdaCommand::Document(Command::New { document_type, .. }) = args.command
        else {
            panic!()
        };
        assert_eq!(document_type, Some(DocumentType::Lab));
        assert!(crate::Cli::try_parse_from(["fse", "cda", "example", "--type", "PSS"]).is_err());
    }

    #[test]
    fn run_writes_the_output_file() {
        let dir = std::env::temp_dir().join(format!("fse-cli-document-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("RAD.xml");
        let global = crate::GlobalArgs {
            config: None,
            profile: None,
        };
        run(
            Command::Example {
                document_type: DocumentType::Rad,
                json: false,
                output: Some(out.clone()),
            },
            &global,
        )
        .unwrap();
        let written = std::fs::read_to_string(&out).unwrap();
        assert_eq!(written, example(DocumentType::Rad, false).unwrap());
        let next = dir.join("RAD.v2.xml");
        run(
            Command::Replace {
                file: out,
                id: None,
                effective_time: None,
                output: Some(next.clone()),
            },
            &global,
        )
        .unwrap();
        let meta = Metadata::from_bytes(&std::fs::read(&next).unwrap()).unwrap();
        assert_eq!(meta.version_number, Some(2));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
