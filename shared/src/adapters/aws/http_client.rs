//! The HTTP client of every SDK client and of the credentials chain: the SDK's own
//! (`aws-smithy-http-client`, hyper with rustls), with ring for cryptography and a trust store of
//! five compiled-in roots instead of the system's.
//!
//! The SDK's default client (`default-https-client`) uses aws-lc-rs and loads every root
//! certificate of the system (`rustls-native-certs`: the bundle and each file of
//! `/etc/ssl/certs`), then parses them again for each SDK client: most of a cold start. AWS
//! service endpoints chain to Amazon Trust Services, so this client trusts only Amazon Root CA 1-4
//! and Starfield Services Root G2 (`aws-roots.pem`), and nothing is read from disk at start-up.
//!
//! `AWS_CA_BUNDLE`, the variable the AWS CLI and the other SDKs read, names a PEM file whose
//! certificates are trusted as well: for a TLS-inspecting proxy, or a local HTTPS endpoint. A
//! bundle that cannot be read, or holds no usable certificate, is an error at start-up.
//!
//! Everything else is the SDK default's: HTTP/1.1 and HTTP/2, the SDK's connect and read timeouts,
//! connections pooled per settings, its error classification for retries, and `HTTP_PROXY`,
//! `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY` (as for the SDK's behavior versions from 2025-08-07 on).

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::path::{Path, PathBuf};

/// Amazon Root CA 1-4 and Starfield Services Root Certificate Authority - G2, as PEM.
pub const AWS_ROOTS_PEM: &[u8] = include_bytes!("aws-roots.pem");

/// The variable naming a PEM bundle of additional roots.
pub const CA_BUNDLE_VAR: &str = "AWS_CA_BUNDLE";

/// `AWS_CA_BUNDLE` named a file that cannot be read or holds no usable certificate.
#[derive(Debug, thiserror::Error)]
#[error("AWS_CA_BUNDLE={}: {reason}", path.display())]
pub struct CaBundleError {
    pub path: PathBuf,
    pub reason: String,
}

/// The client trusting the Amazon roots, and the certificates of `AWS_CA_BUNDLE` when it is set.
pub fn http_client() -> Result<SharedHttpClient, CaBundleError> {
    let bundle = match std::env::var_os(CA_BUNDLE_VAR) {
        Some(path) if !path.is_empty() => Some(read_ca_bundle(Path::new(&path))?),
        _ => None,
    };
    Ok(http_client_trusting(bundle))
}

/// The client trusting the Amazon roots and the certificates of `extra_roots` (PEM, as returned by
/// [`read_ca_bundle`]).
pub fn http_client_trusting(extra_roots: Option<Vec<u8>>) -> SharedHttpClient {
    let mut trust = TrustStore::empty().with_pem_certificate(AWS_ROOTS_PEM);
    if let Some(pem) = extra_roots {
        trust = trust.with_pem_certificate(pem);
    }
    let tls = TlsContext::builder().with_trust_store(trust).build().expect("a TLS context with a trust store");
    // Called without settings, this is the SDK's warm-up, once per SDK client as it is built
    // (`validate_base_client_config`): it builds a connector and drops it, to load the system's
    // roots before the first request. Ours are compiled in, and each real connector (built with
    // the request's settings, cached per settings) decodes them anyway: decoding them for the
    // warm-up too was a fifth of a three-client function's init. So the warm-up gets a
    // connector that trusts nothing; were a real request ever given one, it would be refused
    // (`a_root_from_the_ca_bundle_is_trusted` fails then).
    let trusting_nothing = TlsContext::builder().with_trust_store(TrustStore::empty()).build().expect("a TLS context");
    // The SDK's default client is built the same way (aws-smithy-runtime's
    // `default_https_client`): `Builder::build_https` would leave the proxy variables unread.
    Builder::new().build_with_connector_fn(move |settings, components| {
        let tls = if settings.is_some() { &tls } else { &trusting_nothing };
        let mut connector =
            ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::Ring)).tls_context(tls.clone());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// Reads a PEM bundle and checks that each of its certificates can be a trust anchor (the SDK's
/// client would panic on one that cannot, when it builds a connection).
pub fn read_ca_bundle(path: &Path) -> Result<Vec<u8>, CaBundleError> {
    let error = |reason: String| CaBundleError { path: path.to_owned(), reason };
    let pem = std::fs::read(path).map_err(|err| error(err.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for (index, cert) in CertificateDer::pem_slice_iter(&pem).enumerate() {
        let cert = cert.map_err(|err| error(format!("certificate {}: {err}", index + 1)))?;
        roots.add(cert).map_err(|err| error(format!("certificate {}: {err}", index + 1)))?;
    }
    if roots.is_empty() {
        return Err(error("no PEM certificate in the file".to_owned()));
    }
    Ok(pem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::PrivateKeyDer;
    use std::sync::Arc;

    /// A root of our own (P-256, valid until 2126), not among the public ones.
    const TEST_ROOT: &str = "-----BEGIN CERTIFICATE-----
MIIBlzCCAT2gAwIBAgIUNSA3R+OBmmjwVngucnXtD+8WE7UwCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNcHB4IHRlc3Qgcm9vdDAgFw0yNjExMjcxMTM4MTlaGA8yMTI2
MTEwMzExMzgxOVowGDEWMBQGA1UEAwwNcHB4IHRlc3Qgcm9vdDBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABIk8g/GvvHYksikK19lfThtcpYk5lYx/0ZfALlD6jMI1
ffdrYUBq3cp7la14dyHc2WpLuN6r0OJBda6Pwm0HxeejYzBhMB0GA1UdDgQWBBTJ
iVrj0uyTUWyJkUTQW2VGoCQx3TAfBgNVHSMEGDAWgBTJiVrj0uyTUWyJkUTQW2VG
oCQx3TAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwICBDAKBggqhkjOPQQD
AgNIADBFAiEAollwQFc94fI2ZWDaIZ0RS8eC41WWmicZhcGOOZbddNgCIGrmURp+
ktRxMKDl3mLnSk6UEbmhLfpXu2YisKEKs37T
-----END CERTIFICATE-----
";
    /// A certificate it signed for 127.0.0.1 and localhost, and its key.
    const TEST_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBwjCCAWmgAwIBAgIUOQQh6FUoJRpEhfu3AEDMot4ViiswCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNcHB4IHRlc3Qgcm9vdDAgFw0yNjExMjcxMTM4MjBaGA8yMTI2
MTEwMzExMzgyMFowFDESMBAGA1UEAwwJbG9jYWxob3N0MFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEt+zR5MujCieOeASXykvkZoq2+2vm4jVlfAnPI96piL4IfQ3G
RuHeUF15LJ1wuF3fy5QB9tMeccI+ZJpRtbVB+qOBkjCBjzAMBgNVHRMBAf8EAjAA
MA4GA1UdDwEB/wQEAwIHgDATBgNVHSUEDDAKBggrBgEFBQcDATAaBgNVHREEEzAR
gglsb2NhbGhvc3SHBH8AAAEwHQYDVR0OBBYEFIpsXQ5ph7OJEXbLBxWzdeWUbSg6
MB8GA1UdIwQYMBaAFMmJWuPS7JNRbImRRNBbZUagJDHdMAoGCCqGSM49BAMCA0cA
MEQCIDOKvgUqZMUv7ggZt5euFQym0lT1ChkXdZzGmLlReX9pAiBgtHX0yzOpj3Ov
eW6RoIIa4354vO306oEcfy6D2uA5ag==
-----END CERTIFICATE-----
";
    const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgjeX1EB/+5Lpd7U20
P2Z7KwwzUCOU67vU6+vCK5ltYN+hRANCAAS37NHky6MKJ454BJfKS+Rmirb7a+bi
NWV8Cc8j3qmIvgh9DcZG4d5QXXksnXC4Xd/LlAH20x5xwj5kmlG1tUH6
-----END PRIVATE KEY-----
";

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|window| window == needle)
    }

    /// A file under the temporary directory holding `contents`, removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(contents: &[u8]) -> Self {
            let path = std::env::temp_dir().join(format!("ppx-ca-bundle-{}.pem", uuid::Uuid::new_v4().simple()));
            std::fs::write(&path, contents).unwrap();
            Self(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn the_bundled_roots_are_the_five_aws_endpoints_chain_to() {
        let certs: Vec<_> = CertificateDer::pem_slice_iter(AWS_ROOTS_PEM).collect::<Result<_, _>>().unwrap();
        assert_eq!(certs.len(), 5);
        let mut roots = rustls::RootCertStore::empty();
        for cert in certs {
            roots.add(cert).unwrap();
        }
        let names = [
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ];
        for (anchor, name) in roots.roots.iter().zip(names) {
            assert!(contains(&anchor.subject, name.as_bytes()), "expected {name}");
        }
    }

    #[test]
    fn a_ca_bundle_is_read_and_checked() {
        let bundle = TempFile::new(TEST_ROOT.as_bytes());
        assert_eq!(read_ca_bundle(&bundle.0).unwrap(), TEST_ROOT.as_bytes());

        let missing = std::env::temp_dir().join("ppx-no-such-bundle.pem");
        let err = read_ca_bundle(&missing).unwrap_err();
        assert!(
            err.to_string().starts_with("AWS_CA_BUNDLE=") && err.to_string().contains("ppx-no-such-bundle"),
            "{err}"
        );

        let empty = TempFile::new(b"# no certificate here\n");
        assert!(read_ca_bundle(&empty.0).unwrap_err().reason.contains("no PEM certificate"));

        let broken =
            TempFile::new(b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
        assert!(read_ca_bundle(&broken.0).unwrap_err().reason.starts_with("certificate 1:"));
    }

    #[cfg(feature = "dynamodb")]
    mod https {
        use super::*;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio::net::TcpListener;

        /// A TLS server presenting [`TEST_CERT`] that answers every request with DynamoDB's answer
        /// to `ListTables` on an empty account; its port.
        async fn tls_server() -> u16 {
            let cert = CertificateDer::from_pem_slice(TEST_CERT.as_bytes()).unwrap();
            let key = PrivateKeyDer::from_pem_slice(TEST_KEY.as_bytes()).unwrap();
            let config =
                rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .with_no_client_auth()
                    .with_single_cert(vec![cert], key)
                    .unwrap();
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            tokio::spawn(async move {
                while let Ok((socket, _)) = listener.accept().await {
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        let Ok(mut tls) = acceptor.accept(socket).await else { return };
                        let mut buf = [0u8; 4096];
                        let _ = tls.read(&mut buf).await;
                        let body = r#"{"TableNames":[]}"#;
                        let response = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = tls.write_all(response.as_bytes()).await;
                        let _ = tls.shutdown().await;
                    });
                }
            });
            port
        }

        /// `ListTables` over HTTPS to the local server through a DynamoDB client on `http_client`.
        async fn list_tables(
            http_client: SharedHttpClient,
        ) -> Result<(), aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::list_tables::ListTablesError>>
        {
            let port = tls_server().await;
            let config = aws_sdk_dynamodb::Config::builder()
                .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
                .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
                .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "test"))
                .endpoint_url(format!("https://127.0.0.1:{port}"))
                .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
                .http_client(http_client)
                .build();
            aws_sdk_dynamodb::Client::from_conf(config).list_tables().send().await.map(|_| ())
        }

        #[tokio::test]
        async fn a_certificate_no_bundled_root_signed_is_refused() {
            let err = list_tables(http_client_trusting(None)).await.unwrap_err();
            assert!(format!("{err:?}").contains("UnknownIssuer"), "{err:?}");
        }

        #[tokio::test]
        async fn a_root_from_the_ca_bundle_is_trusted() {
            let bundle = TempFile::new(TEST_ROOT.as_bytes());
            let roots = read_ca_bundle(&bundle.0).unwrap();
            list_tables(http_client_trusting(Some(roots))).await.unwrap();
        }
    }
}
