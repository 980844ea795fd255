//! Writing the model out as Rust: one file per kind of item.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::read::{Body, Field, Model, Operation, Struct, Table, Ty, upper_camel};

/// `#[doc = ...]` attributes, one per line of `text`.
fn doc(text: &str) -> TokenStream {
    let lines = text.lines().map(|line| {
        let line = if line.is_empty() {
            String::new()
        } else {
            format!(" {line}")
        };
        quote!(#[doc = #line])
    });
    quote!(#(#lines)*)
}

/// The module documentation of a generated file.
fn inner_doc(text: &str) -> TokenStream {
    let lines = text.lines().map(|line| {
        let line = if line.is_empty() {
            String::new()
        } else {
            format!(" {line}")
        };
        quote!(#![doc = #line])
    });
    quote!(#(#lines)*)
}

pub fn tables(model: &Model) -> TokenStream {
    let items = model.tables.iter().map(table);
    let header = inner_doc(
        "The code tables of `schemas/fse-gateway.openapi.yaml`, with their exact wire values.\n\nMethods beyond reading and writing live in `crate::tables`.",
    );
    quote! {
        #header
        use std::fmt;
        use std::str::FromStr;
        #(#items)*
    }
}

fn table(t: &Table) -> TokenStream {
    let name = format_ident!("{}", t.name);
    let table_name = &t.name;
    let mut type_doc = t.doc.clone();
    type_doc.push_str("\n\nValues the table does not list are kept as [`");
    type_doc.push_str(&t.name);
    type_doc.push_str("::Other`]; [`");
    type_doc.push_str(&t.name);
    type_doc.push_str("::parse_listed`] refuses them.");
    let type_doc = doc(&type_doc);
    let variants: Vec<_> = t
        .values
        .iter()
        .map(|v| format_ident!("{}", v.variant))
        .collect();
    let wires: Vec<&str> = t.values.iter().map(|v| v.wire.as_str()).collect();
    let variant_docs = t.values.iter().map(|v| match &v.description {
        Some(d) => doc(&format!("`{}`: {d}", v.wire)),
        None => doc(&format!("`{}`.", v.wire)),
    });
    let described: Vec<_> = t
        .values
        .iter()
        .filter_map(|v| {
            v.description
                .as_ref()
                .map(|d| (format_ident!("{}", v.variant), d.as_str()))
        })
        .collect();
    let described_variants = described.iter().map(|(v, _)| v);
    let described_texts = described.iter().map(|(_, d)| d);
    let description_body = if described.is_empty() {
        quote!(None)
    } else {
        quote! {
            match self {
                #( Self::#described_variants => Some(#described_texts), )*
                _ => None,
            }
        }
    };
    quote! {
        #type_doc
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum #name {
            #( #variant_docs #variants, )*
            /// A value the table does not list, kept as received.
            Other(String),
        }

        impl #name {
            /// Every value the table lists, in the specification's order.
            pub const LISTED: &'static [Self] = &[ #( Self::#variants ),* ];

            /// The value as the wire spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    #( Self::#variants => #wires, )*
                    Self::Other(value) => value,
                }
            }

            /// Reads a wire value (exactly, case included); a value the
            /// table does not list becomes `Other`.
            pub fn from_wire(value: &str) -> Self {
                match value {
                    #( #wires => Self::#variants, )*
                    other => Self::Other(other.to_owned()),
                }
            }

            /// Reads a wire value the table lists; any other is an error.
            pub fn parse_listed(value: &str) -> Result<Self, crate::Error> {
                match Self::from_wire(value) {
                    Self::Other(_) => Err(crate::Error::UnlistedCode {
                        table: #table_name,
                        value: crate::error::shown(value),
                    }),
                    listed => Ok(listed),
                }
            }

            /// Whether the table lists this value.
            pub fn is_listed(&self) -> bool {
                !matches!(self, Self::Other(_))
            }

            /// The specification's description of the value, when it has one.
            pub fn description(&self) -> Option<&'static str> {
                #description_body
            }
        }

        impl crate::tables::CodeTable for #name {
            const NAME: &'static str = #table_name;
            fn listed() -> &'static [Self] {
                Self::LISTED
            }
            fn as_str(&self) -> &str {
                #name::as_str(self)
            }
            fn from_wire(value: &str) -> Self {
                #name::from_wire(value)
            }
            fn description(&self) -> Option<&'static str> {
                #name::description(self)
            }
        }

        impl fmt::Display for #name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for #name {
            type Err = std::convert::Infallible;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Ok(Self::from_wire(value))
            }
        }

        impl serde::Serialize for #name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for #name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Ok(Self::from_wire(&value))
            }
        }
    }
}

pub fn structs(list: &[Struct], what: &str) -> TokenStream {
    let header = inner_doc(what);
    let items = list.iter().map(structure);
    quote! {
        #header
        use crate::tables::*;
        #(#items)*
    }
}

fn rust_type(ty: &Ty) -> TokenStream {
    match ty {
        Ty::String => quote!(String),
        Ty::Bool => quote!(bool),
        Ty::U16 => quote!(u16),
        Ty::U64 => quote!(u64),
        Ty::I32 => quote!(i32),
        Ty::I64 => quote!(i64),
        Ty::Vec(inner) => {
            let inner = rust_type(inner);
            quote!(Vec<#inner>)
        }
        Ty::Named(name) => {
            let name = format_ident!("{}", name);
            quote!(#name)
        }
        Ty::Path(path) => path
            .parse()
            .unwrap_or_else(|_| quote!(compile_error!("bad x-rust-type"))),
    }
}

fn field(f: &Field) -> TokenStream {
    let name = format_ident!("{}", f.rust);
    let wire = &f.wire;
    let inner = rust_type(&f.ty);
    let ty = if f.required {
        inner
    } else {
        quote!(Option<#inner>)
    };
    let mut serde_args = vec![quote!(rename = #wire)];
    if !f.required {
        serde_args.push(quote!(default));
        serde_args.push(quote!(skip_serializing_if = "Option::is_none"));
    }
    if f.empty_is_none {
        serde_args.push(quote!(
            deserialize_with = "crate::support::empty_string_as_none"
        ));
    }
    let mut text = f.doc.clone();
    if f.personal {
        text.push_str("\n\nPersonal data: `Debug` masks it.");
    }
    let docs = doc(&text);
    let deprecated = if f.deprecated {
        quote!(#[deprecated = "the specification deprecates it"])
    } else {
        quote!()
    };
    quote! {
        #docs
        #deprecated
        #[serde(#(#serde_args),*)]
        pub #name: #ty,
    }
}

fn structure(s: &Struct) -> TokenStream {
    let name = format_ident!("{}", s.name);
    let mut text = s.doc.clone();
    if s.closed {
        text.push_str("\n\nUnknown properties are refused when read.");
    } else {
        text.push_str("\n\nProperties this schema does not list are kept in `additional`.");
    }
    let docs = doc(&text);
    let fields = s.fields.iter().map(field);
    let extra = if s.closed {
        quote!()
    } else {
        quote! {
            /// Properties the schema does not list, kept as received.
            #[serde(flatten)]
            pub additional: serde_json::Map<String, serde_json::Value>,
        }
    };
    let container = if s.closed {
        quote!(#[serde(deny_unknown_fields)])
    } else {
        quote!()
    };
    let personal = s.fields.iter().any(|f| f.personal);
    let debug_derive = if personal { quote!() } else { quote!(Debug,) };
    let allow_deprecated = if s.fields.iter().any(|f| f.deprecated) {
        quote!(#[allow(deprecated)])
    } else {
        quote!()
    };
    let debug_impl = if personal { debug_masking(s) } else { quote!() };
    quote! {
        #docs
        #allow_deprecated
        #[derive(#debug_derive Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #container
        pub struct #name {
            #(#fields)*
            #extra
        }
        #debug_impl
    }
}

/// A `Debug` that masks the personal fields.
fn debug_masking(s: &Struct) -> TokenStream {
    let name = format_ident!("{}", s.name);
    let name_text = &s.name;
    let entries = s.fields.iter().map(|f| {
        let ident = format_ident!("{}", f.rust);
        let label = &f.rust;
        match (f.personal, f.required) {
            (true, true) => quote!(.field(#label, &crate::support::Masked(&self.#ident))),
            (true, false) => {
                quote!(.field(#label, &self.#ident.as_deref().map(crate::support::Masked)))
            }
            (false, _) => quote!(.field(#label, &self.#ident)),
        }
    });
    let extra = if s.closed {
        quote!()
    } else {
        quote!(.field("additional", &self.additional))
    };
    let allow_deprecated = if s.fields.iter().any(|f| f.deprecated) {
        quote!(#[allow(deprecated)])
    } else {
        quote!()
    };
    quote! {
        #allow_deprecated
        impl std::fmt::Debug for #name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(#name_text)
                    #(#entries)*
                    #extra
                    .finish()
            }
        }
    }
}

pub fn operations(model: &Model) -> TokenStream {
    let header = inner_doc(
        "The operations of `schemas/fse-gateway.openapi.yaml`.\n\nMethods beyond these facts live in `crate::operation`.",
    );
    let ops = &model.operations;
    let variants: Vec<_> = ops
        .iter()
        .map(|o| format_ident!("{}", upper_camel(&o.id)))
        .collect();
    let variant_docs = ops
        .iter()
        .map(|o| doc(&format!("`{} {}`: {}", o.method, o.path, o.summary)));
    let ids = ops.iter().map(|o| o.id.as_str());
    let methods = ops.iter().map(|o| o.method.as_str());
    let paths = ops.iter().map(|o| o.path.as_str());
    let bodies = ops.iter().map(|o| match &o.body {
        Body::None => quote!(RequestBody::None),
        Body::Json(t) => quote!(RequestBody::Json(#t)),
        Body::Multipart(t) => quote!(RequestBody::Multipart(#t)),
    });
    let success = ops.iter().map(|o| {
        let codes = &o.success;
        quote!(&[#(#codes),*])
    });
    let actions = ops
        .iter()
        .map(|o| variant_list(quote!(ActionId), &o.action_ids));
    let purposes = ops
        .iter()
        .map(|o| variant_list(quote!(PurposeOfUse), &o.purposes));
    let bearer = ops.iter().map(|o| o.bearer);
    let signature = ops.iter().map(|o| o.signature);
    let callback = ops.iter().map(|o| o.callback);
    let provider = ops.iter().map(|o| o.provider_side);
    let v = &variants;
    quote! {
        #header
        use crate::tables::{ActionId, PurposeOfUse};

        /// An operation of the Gateway API (or, for
        /// [`Operation::NotifyWorkflowStatus`], of the provider's server).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Operation {
            #( #variant_docs #variants, )*
        }

        /// What an operation's request carries.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum RequestBody {
            /// No body.
            None,
            /// A JSON body; the name of its type.
            Json(&'static str),
            /// A multipart body: a `requestBody` JSON part, whose type is
            /// named here, and a `file` part with the PDF.
            Multipart(&'static str),
        }

        impl Operation {
            /// Every operation, in the schema's order.
            pub const ALL: &'static [Self] = &[ #( Self::#v ),* ];

            /// The schema's `operationId`.
            pub fn operation_id(self) -> &'static str {
                match self { #( Self::#v => #ids, )* }
            }

            /// The HTTP method, upper case.
            pub fn method(self) -> &'static str {
                match self { #( Self::#v => #methods, )* }
            }

            /// The path under the base URL, with `{parameters}`.
            pub fn path_template(self) -> &'static str {
                match self { #( Self::#v => #paths, )* }
            }

            /// What the request carries.
            pub fn request_body(self) -> RequestBody {
                match self { #( Self::#v => #bodies, )* }
            }

            /// The HTTP statuses of success.
            pub fn success_statuses(self) -> &'static [u16] {
                match self { #( Self::#v => #success, )* }
            }

            /// The JWT `action_id` values the Gateway accepts for it (empty
            /// when it takes no signature token).
            pub fn action_ids(self) -> &'static [ActionId] {
                match self { #( Self::#v => #actions, )* }
            }

            /// The JWT `purpose_of_use` values the Gateway accepts for it
            /// (empty when it takes no signature token).
            pub fn purposes_of_use(self) -> &'static [PurposeOfUse] {
                match self { #( Self::#v => #purposes, )* }
            }

            /// Whether it needs the `Authorization: Bearer` token.
            pub fn needs_bearer_token(self) -> bool {
                match self { #( Self::#v => #bearer, )* }
            }

            /// Whether it needs the `FSE-JWT-Signature` token.
            pub fn needs_signature_token(self) -> bool {
                match self { #( Self::#v => #signature, )* }
            }

            /// Whether it takes an `X-Callback-Url` header.
            pub fn accepts_callback_url(self) -> bool {
                match self { #( Self::#v => #callback, )* }
            }

            /// Whether the provider's server, not the Gateway, serves it.
            pub fn is_served_by_provider(self) -> bool {
                match self { #( Self::#v => #provider, )* }
            }
        }
    }
}

fn variant_list(table: TokenStream, values: &[String]) -> TokenStream {
    let variants = values.iter().map(|v| format_ident!("{}", upper_camel(v)));
    quote!(&[#(#table::#variants),*])
}

/// Checks the operations' JWT lists name listed table values.
pub fn check_operation_tables(model: &Model) -> anyhow::Result<()> {
    let table = |name: &str| model.tables.iter().find(|t| t.name == name);
    for (name, pick) in [
        (
            "ActionId",
            (|o: &Operation| &o.action_ids) as fn(&Operation) -> &Vec<String>,
        ),
        ("PurposeOfUse", |o: &Operation| &o.purposes),
    ] {
        let t = table(name).ok_or_else(|| anyhow::anyhow!("no {name} table"))?;
        for op in &model.operations {
            for value in pick(op) {
                let variant = upper_camel(value);
                if !t
                    .values
                    .iter()
                    .any(|v| &v.wire == value && v.variant == variant)
                {
                    anyhow::bail!("{}: {value:?} is not a value of {name}", op.id);
                }
            }
        }
    }
    Ok(())
}
