//! A local stand-in for Regione Toscana's CART and the national FSE 2.0
//! Gateway, faithful to the national rules, that starts in a second.
//!
//! - [`pki`]: a throw-away test PKI (CA, server, authentication and
//!   signature certificates in the national `A1#`/`S1#` style, PDF signer),
//!   written as PEM and PKCS#12.
//! - [`gateway`]: every Gateway v1 operation with the dispatcher's checks:
//!   the JWT claims ([`claims`]) after the GovWay front's signature, `x5c`,
//!   `exp` and `aud` checks ([`jwt`]); the request body ([`body`]); CDA
//!   extraction and validation ([`engine`], with fse-cda and fse-pades);
//!   the validation → publication link (single use, 5 days, injectable
//!   [`clock`]); publication, replacement, metadata update, delete; status
//!   events and push notifications ([`callback`]).
//! - [`cart`]: the CART layer: `X-CART-id` on every response, GovWay-style
//!   problems, [`faults`], the journal of calls; `/_sim` inspection.
//! - [`state`]: in memory, or kept in a file across restarts.
//! - [`server`]: HTTPS with required client certificates.
//!
//! The router is library code: [`Simulator::router`] can be driven with
//! `tower::ServiceExt::oneshot`, without a socket.
//!
//! ```no_run
//! # async fn run() -> fse_sim::Result<()> {
//! let pki = fse_sim::pki::TestPki::generate()?;
//! let sim = fse_sim::Simulator::builder(&pki).audience("https://127.0.0.1:8443/v1").build()?;
//! let server = fse_sim::server::serve("127.0.0.1:8443", fse_sim::server::server_config(&pki)?, sim.router()).await?;
//! server.wait().await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod body;
pub mod callback;
pub mod cart;
pub mod claims;
pub mod clock;
pub mod codes;
pub mod engine;
mod error;
pub mod faults;
pub mod gateway;
pub mod jwt;
pub mod operation;
pub mod pki;
pub mod problem;
pub mod server;
pub mod state;
pub mod testkit;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};

pub use error::{Error, Result};
pub use operation::Operation;

use crate::callback::Notifier;
use crate::cart::Cart;
use crate::clock::{Clock, SystemClock};
use crate::engine::{CdaEngine, PadesInspector, PdfInspector};
use crate::faults::{FaultInjector, FaultPlan};
use crate::gateway::{Gateway, GatewayConfig};
use crate::pki::TestPki;
use crate::state::Store;

/// The default base path, the national API's version segment.
pub const DEFAULT_BASE_PATH: &str = "/v1";

/// The largest request accepted (the Gateway's Spring default is 10 MB per
/// request).
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

/// A configured simulator: the Gateway behind the CART layer.
#[derive(Debug, Clone)]
pub struct Simulator {
    gateway: Gateway,
    faults: Arc<FaultInjector>,
    base_path: String,
}

/// Builds a [`Simulator`].
#[derive(Debug)]
pub struct SimulatorBuilder {
    base_path: String,
    audiences: Vec<String>,
    trust_anchors: Vec<Vec<u8>>,
    pdf: Arc<dyn PdfInspector>,
    rules: Option<PathBuf>,
    cda: Option<CdaEngine>,
    state_file: Option<PathBuf>,
    clock: Arc<dyn Clock>,
    faults: FaultPlan,
    notifier: Notifier,
}

impl Simulator {
    /// A builder trusting `pki`'s CA for the JWT `x5c`, notifying over mTLS
    /// with `pki`'s server identity.
    pub fn builder(pki: &TestPki) -> SimulatorBuilder {
        let notifier = server::client_config(pki, &pki.server)
            .map(Notifier::with_tls)
            .unwrap_or_else(|_| Notifier::plain());
        SimulatorBuilder {
            base_path: DEFAULT_BASE_PATH.to_owned(),
            audiences: Vec::new(),
            trust_anchors: vec![pki.ca.cert_der.clone()],
            pdf: Arc::new(PadesInspector),
            rules: None,
            cda: None,
            state_file: None,
            clock: Arc::new(SystemClock),
            faults: FaultPlan::none(),
            notifier,
        }
    }

    /// The Gateway (state, clock, engines).
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// The base path of the API (`/v1`).
    pub fn base_path(&self) -> &str {
        &self.base_path
    }

    /// The router: the Gateway operations under the base path, `/_sim`
    /// inspection, all behind the CART layer.
    pub fn router(&self) -> Router {
        use crate::gateway as g;
        let api = Router::new()
            .route("/documents/validation", post(g::h_validation))
            .route("/documents", post(g::h_create))
            .route(
                "/documents/validate-and-create",
                post(g::h_validate_and_create),
            )
            .route(
                "/documents/validate-and-replace/{id}",
                put(g::h_validate_and_replace),
            )
            .route("/documents/{id}", put(g::h_replace).delete(g::h_delete))
            .route("/documents/{id}/metadata", put(g::h_update))
            .route("/documents/{id}/metadata-iti-57", put(g::h_update))
            .route("/status", get(g::h_health))
            .route("/status/{wii}", get(g::h_status))
            .route("/status/search/{trace}", get(g::h_status_search));
        let cart = Cart {
            gateway: self.gateway.clone(),
            faults: self.faults.clone(),
            base_path: self.base_path.clone(),
        };
        Router::new()
            .nest(&self.base_path, api)
            .nest("/_sim", cart::inspection())
            .with_state(self.gateway.clone())
            .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
            .layer(axum::middleware::from_fn_with_state(cart, cart::layer))
    }
}

impl SimulatorBuilder {
    /// The base path (default `/v1`).
    #[must_use]
    pub fn base_path(mut self, path: &str) -> Self {
        path.clone_into(&mut self.base_path);
        self
    }

    /// Accepts this JWT `aud` (call once per accepted value).
    #[must_use]
    pub fn audience(mut self, aud: &str) -> Self {
        self.audiences.push(aud.to_owned());
        self
    }

    /// Validates CDAs with the official rules of this catalogs directory,
    /// instead of the built-in checks.
    #[must_use]
    pub fn rules_dir(mut self, dir: Option<&Path>) -> Self {
        self.rules = dir.map(Path::to_path_buf);
        self
    }

    /// Uses an already built CDA engine (shared across simulators).
    #[must_use]
    pub fn cda_engine(mut self, engine: CdaEngine) -> Self {
        self.cda = Some(engine);
        self
    }

    /// Replaces the PDF side (for tests that do not build PDFs).
    #[must_use]
    pub fn pdf_inspector(mut self, pdf: Arc<dyn PdfInspector>) -> Self {
        self.pdf = pdf;
        self
    }

    /// Keeps the state in this file across restarts.
    #[must_use]
    pub fn state_file(mut self, path: Option<&Path>) -> Self {
        self.state_file = path.map(Path::to_path_buf);
        self
    }

    /// The clock (for the 5-day expiry and `exp`).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The fault plan.
    #[must_use]
    pub fn faults(mut self, plan: FaultPlan) -> Self {
        self.faults = plan;
        self
    }

    /// Builds the simulator.
    ///
    /// # Errors
    /// When the base path is malformed, the rules cannot be loaded or the
    /// state file cannot be read.
    pub fn build(self) -> Result<Simulator> {
        let base = self.base_path.clone();
        let well_formed = base.is_empty()
            || (base.starts_with('/') && !base.ends_with('/') && !base.contains("//"));
        if !well_formed {
            return Err(Error::BasePath(base));
        }
        let cda = match (self.cda, &self.rules) {
            (Some(engine), _) => engine,
            (None, Some(dir)) => CdaEngine::from_rules_dir(dir)?,
            (None, None) => CdaEngine::built_in(),
        };
        let store = match &self.state_file {
            Some(path) => Store::persistent(path)?,
            None => Store::in_memory(),
        };
        let config = GatewayConfig {
            audiences: self.audiences,
            trust_anchors: self.trust_anchors,
            validation_max_age: time::Duration::days(5),
        };
        let gateway = Gateway::new(config, self.pdf, cda, store, self.clock, self.notifier);
        Ok(Simulator {
            gateway,
            faults: Arc::new(FaultInjector::new(self.faults)),
            base_path: base,
        })
    }
}
