//! HTTPS and mutual TLS, with Prometheus itself as the scraper: certificates
//! from a throw-away CA made with the `openssl` command.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp, missing_docs)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{Exporter, Prometheus, get};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").current_dir(dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `ca.crt`, `server.{crt,key}` (for 127.0.0.1) and `client.{crt,key}`, all signed by the CA.
fn make_pki(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=test CA",
        ],
    );
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for (name, ext) in [("server", "server.ext"), ("client", "client.ext")] {
        let (key, csr, crt) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.crt"));
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &format!("/CN={name}"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "2",
                "-extfile",
                ext,
            ],
        );
    }
}

fn job(addr: std::net::SocketAddr, dir: &Path, client_cert: bool) -> String {
    let d = dir.display();
    let client = if client_cert {
        format!("\n      cert_file: {d}/client.crt\n      key_file: {d}/client.key")
    } else {
        String::new()
    };
    format!(
        "  - job_name: nvitop-tls\n    scheme: https\n    tls_config:\n      ca_file: {d}/ca.crt{client}\n    static_configs:\n      - targets: ['{addr}']\n"
    )
}

#[test]
fn prometheus_scrapes_over_tls_and_mutual_tls_refuses_a_scraper_without_a_certificate() {
    let Some(prometheus) = common::tool("prometheus") else {
        return;
    };
    if common::tool("openssl").is_none() {
        return;
    }
    let pki = tempfile::tempdir().unwrap();
    make_pki(pki.path());
    let file = |name: &str| pki.path().join(name).display().to_string();

    // HTTPS: Prometheus trusts our CA and scrapes.
    let tls = Exporter::start(
        &[
            "--simulate",
            "rtx4090",
            "--certfile",
            &file("server.crt"),
            "--keyfile",
            &file("server.key"),
        ],
        &[],
    );
    assert!(tls.log.lock().unwrap().contains("serving https://"));
    // Plain HTTP to the TLS port gets no metrics.
    assert!(
        get(tls.addr, "/metrics", &[]).is_err(),
        "plain HTTP answered on the TLS port"
    );
    let server = Prometheus::start_with(&prometheus, &job(tls.addr, pki.path(), false), "1s");
    server.wait(Duration::from_mins(1), "the TLS target to be up", |p| p.targets_up(1));
    assert_eq!(server.query("count(gpu_utilization_Percentage)")[0].1, 1.0);

    // Mutual TLS: with its client certificate Prometheus is served, without it refused.
    let mtls = Exporter::start(
        &[
            "--simulate",
            "rtx4090",
            "--certfile",
            &file("server.crt"),
            "--keyfile",
            &file("server.key"),
            "--client-cafile",
            &file("ca.crt"),
            "--client-auth-required",
        ],
        &[],
    );
    let with_cert = Prometheus::start_with(&prometheus, &job(mtls.addr, pki.path(), true), "1s");
    with_cert.wait(Duration::from_mins(1), "the mTLS target to be up", |p| p.targets_up(1));
    let without = Prometheus::start_with(&prometheus, &job(mtls.addr, pki.path(), false), "1s");
    without.wait(
        Duration::from_mins(1),
        "a failed scrape without a client certificate",
        |p| p.target_health().iter().any(|(health, _)| health == "down"),
    );
    let health = without.target_health();
    assert!(health.iter().all(|(h, _)| h == "down"), "{health:?}");
    // The refused scraper did not hurt the exporter.
    with_cert.wait(Duration::from_secs(10), "a later successful mTLS scrape", |p| {
        p.targets_up(1)
    });
}

#[test]
fn bad_tls_files_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("empty.crt");
    std::fs::write(&cert, "not a certificate\n").unwrap();
    let out = Command::new(common::BIN)
        .args(["--simulate", "rtx4090", "--port", "0", "--certfile"])
        .arg(&cert)
        .args(["--keyfile", "/nonexistent.key"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("empty.crt") && stderr.contains("no PEM certificate"),
        "{stderr}"
    );
}
