//! TLS for tokio-postgres over rustls: a `TlsConnect` that wraps the TCP stream we opened
//! to the SSRF-checked address, with SNI and certificate verification against the host
//! **name** the user typed.
//!
//! Trust store: `verify-full` uses `rustls-platform-verifier`, the verifier reqwest
//! already uses for every HTTPS connector in this app, so no crate is added and a campus
//! CA that the operator installed in the system store is trusted here too (webpki-roots
//! would be as light, but would ignore that CA). `require` encrypts without checking
//! the certificate, as libpq's `sslmode=require` does.
//!
//! The crypto provider is named explicitly (aws-lc-rs, as reqwest's): with `ring` also in
//! the build graph, `ClientConfig::builder()` would panic on an ambiguous default.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use rustls_platform_verifier::BuilderVerifierExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, TlsConnect, TlsStream};

use crate::ConnectorError;
use crate::ssrf::parse_ip_literal;

/// Whether the server certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verification {
    /// Against the platform trust store and the typed host name.
    Full,
    /// Not at all (encryption only).
    None,
}

/// A rustls connector bound to one server name.
pub(crate) struct RustlsConnect {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
}

impl RustlsConnect {
    /// A connector for `host` (as typed: a name or an IP literal).
    pub(crate) fn new(host: &str, verification: Verification) -> Result<Self, ConnectorError> {
        Ok(Self {
            config: client_config(verification)?,
            server_name: server_name(host)?,
        })
    }
}

/// The name to send as SNI and check the certificate against: an IP literal (in any
/// spelling the SSRF guard accepts) as the address, a DNS name in lowercase ASCII.
fn server_name(host: &str) -> Result<ServerName<'static>, ConnectorError> {
    if let Some(ip) = parse_ip_literal(host) {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    let ascii = match url::Host::parse(host) {
        Ok(url::Host::Domain(domain)) => domain.trim_end_matches('.').to_ascii_lowercase(),
        _ => String::new(),
    };
    ServerName::try_from(ascii).map_err(|_| {
        ConnectorError::invalid_field("host", format!("`{host}` is not a valid host name"))
    })
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client_config(verification: Verification) -> Result<Arc<ClientConfig>, ConnectorError> {
    static FULL: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    static ENCRYPT_ONLY: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    let cell = match verification {
        Verification::Full => &FULL,
        Verification::None => &ENCRYPT_ONLY,
    };
    cell.get_or_init(|| build_config(verification).map_err(|e| e.to_string()))
        .clone()
        .map_err(|reason| {
            ConnectorError::misconfigured(format!("cannot set up TLS for PostgreSQL: {reason}"))
        })
}

fn build_config(verification: Verification) -> Result<Arc<ClientConfig>, rustls::Error> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let mut config = match verification {
        Verification::Full => builder.with_platform_verifier()?.with_no_client_auth(),
        Verification::None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate {
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
    };
    // PostgreSQL 17+ checks ALPN when a client offers it; older servers ignore it.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(Arc::new(config))
}

/// `sslmode=require`: any certificate is accepted, but the handshake signatures are still
/// checked against it, so the session key belongs to whoever holds that certificate.
#[derive(Debug)]
struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        let connector = tokio_rustls::TlsConnector::from(self.config);
        Box::pin(async move {
            let tls = connector.connect(self.server_name, stream).await?;
            Ok(RustlsStream(tls))
        })
    }
}

/// A TLS session to the server.
pub(crate) struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    /// No `tls-server-end-point` binding: its hash must follow the certificate's signature
    /// algorithm, which would need an X.509 parser; a wrong guess would fail SCRAM-PLUS
    /// logins, so plain SCRAM is used (as many drivers do).
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_follow_the_typed_host() {
        assert!(matches!(
            server_name("DB.Campus.EDU."),
            Ok(ServerName::DnsName(name)) if name.as_ref() == "db.campus.edu"
        ));
        assert!(matches!(
            server_name("0x7f.0.0.1"),
            Ok(ServerName::IpAddress(ip)) if std::net::IpAddr::from(ip).to_string() == "127.0.0.1"
        ));
        assert!(matches!(server_name("[::1]"), Ok(ServerName::IpAddress(_))));
        assert!(server_name("bad host").is_err());
    }

    #[test]
    fn both_configs_build_with_an_explicit_provider() {
        assert!(client_config(Verification::Full).is_ok());
        assert!(client_config(Verification::None).is_ok());
    }
}
