//! The SDK clients' HTTP client (`incident_aws::http_client`: hyper and rustls on ring, in place of
//! the SDK's default aws-lc client) speaks TLS and checks certificates: a DynamoDB call over HTTPS
//! to a local server succeeds when the client trusts the server's certificate, and fails when it
//! does not. The functions' trust store (`incident_aws::compiled_roots`, Mozilla's roots compiled
//! in) is well formed, holds Amazon's roots and refuses what it does not hold. (The local stack
//! speaks plain HTTP, so this is where TLS is tested.)

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::tls::TrustStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// An HTTPS server for `localhost` that answers every request with an empty table list, and
/// reports each request's head.
async fn https_server() -> (u16, String, mpsc::UnboundedReceiver<String>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let pem = certified.cert.pem();
    let chain = vec![CertificateDer::from(certified.cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (seen, heads) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, seen) = (acceptor.clone(), seen.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = seen.send(String::from_utf8_lossy(&request).to_string());
                let body = r#"{"TableNames":[]}"#;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, pem, heads)
}

fn dynamodb(port: u16, roots: TrustStore) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tls-test"))
        .endpoint_url(format!("https://localhost:{port}"))
        .http_client(incident_aws::http_client_trusting(roots))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// ListTables over HTTPS with `roots`: it succeeds, with the server's empty list.
async fn lists_no_tables(port: u16, roots: TrustStore) {
    let out = dynamodb(port, roots)
        .list_tables()
        .send()
        .await
        .expect("ListTables over HTTPS");
    assert!(out.table_names().is_empty());
}

#[tokio::test]
async fn an_sdk_call_goes_over_tls_to_a_server_the_client_trusts() {
    let (port, pem, mut heads) = https_server().await;
    let trusted = TrustStore::empty().with_pem_certificate(pem.into_bytes());
    lists_no_tables(port, trusted).await;
    let head = heads.recv().await.expect("the server decrypted a request");
    assert!(head.starts_with("POST / HTTP/1.1"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("x-amz-target: dynamodb_20120810.listtables"),
        "{head}"
    );
}

#[tokio::test]
async fn a_server_whose_certificate_is_not_trusted_is_refused() {
    let (port, _pem, mut heads) = https_server().await;
    let refused = dynamodb(port, TrustStore::empty()).list_tables().send().await;
    assert!(refused.is_err(), "an untrusted certificate must fail the call");
    assert!(heads.try_recv().is_err(), "no request reached the server");
}

#[test]
fn the_functions_roots_are_mozillas_compiled_in_with_amazons_among_them() {
    use rustls::pki_types::pem::PemObject;
    let pem = incident_aws::compiled_roots_pem();
    let roots = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .expect("one well-formed PEM bundle");
    assert_eq!(roots.len(), webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
    assert!(roots.len() > 100, "{} roots", roots.len());
    assert!(roots
        .iter()
        .zip(webpki_root_certs::TLS_SERVER_ROOT_CERTS)
        .all(|(a, b)| a == b));
    // Every AWS endpoint's chain ends at one of Amazon Trust Services' roots.
    for name in [
        "Amazon Root CA 1",
        "Amazon Root CA 3",
        "Starfield Services Root Certificate Authority - G2",
    ] {
        assert!(
            roots
                .iter()
                .any(|r| r.windows(name.len()).any(|w| w == name.as_bytes())),
            "{name} is not among the compiled roots"
        );
    }
}

#[tokio::test]
async fn the_functions_roots_refuse_a_server_they_do_not_hold_and_take_one_added() {
    let (port, pem, mut heads) = https_server().await;
    let refused = dynamodb(port, incident_aws::compiled_roots())
        .list_tables()
        .send()
        .await;
    assert!(
        refused.is_err(),
        "a self-signed certificate is not among Mozilla's roots"
    );
    assert!(heads.try_recv().is_err(), "no request reached the server");
    let trusted = incident_aws::compiled_roots().with_pem_certificate(pem.into_bytes());
    lists_no_tables(port, trusted).await;
    assert!(heads.recv().await.is_some(), "the server decrypted a request");
}
