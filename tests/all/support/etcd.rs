//! A real etcd (Debian's `etcd-server`, installed with apt when the
//! machine lacks it) on loopback ports of its own, with its data in a
//! temporary directory. Killed on drop. [`EtcdPeer::start_tls`] starts one
//! that serves TLS only and asks every client for a certificate from its
//! CA; [`EtcdPeer::enable_auth`] turns its authentication on.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

pub struct EtcdPeer {
    child: Option<Child>,
    pub url: String,
    peer_url: String,
    /// Plain HTTP, where etcd answers `/health` whatever its client URL
    /// asks of clients.
    metrics_url: String,
    data: tempfile::TempDir,
    /// Its certificates, when it serves TLS.
    pub tls: Option<EtcdCerts>,
    /// It gives signed tokens (JWT) that carry the revision of its users
    /// and roles, instead of its default random ones.
    jwt: bool,
}

/// A TLS etcd's certificates (PEM files): the CA that signed them all, and
/// a client certificate a gateway shows.
pub struct EtcdCerts {
    pub ca: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
}

impl EtcdPeer {
    pub fn start() -> EtcdPeer {
        Self::start_with(false, false)
    }

    /// An etcd at an `https://` URL that accepts only clients with a
    /// certificate its CA signed (`--client-cert-auth`); `jwt`: its tokens
    /// are signed ones that name the revision of its users and roles, so
    /// that a change of those makes it refuse the tokens given before.
    pub fn start_tls(jwt: bool) -> EtcdPeer {
        Self::start_with(true, jwt)
    }

    fn start_with(tls: bool, jwt: bool) -> EtcdPeer {
        install();
        // In memory where the machine has it: etcd syncs every write, and a
        // loaded CI disk would make its answers slow.
        let data = match std::path::Path::new("/dev/shm").is_dir() {
            true => tempfile::tempdir_in("/dev/shm"),
            false => tempfile::tempdir(),
        }
        .expect("temp dir");
        let scheme = if tls { "https" } else { "http" };
        let tls = tls.then(|| certificates(data.path()));
        let mut peer = EtcdPeer {
            child: None,
            url: format!("{scheme}://127.0.0.1:{}", free_port()),
            peer_url: format!("http://127.0.0.1:{}", free_port()),
            metrics_url: format!("http://127.0.0.1:{}", free_port()),
            data,
            tls,
            jwt,
        };
        peer.run();
        peer
    }

    /// Kills it at once (SIGKILL), keeping its data for [`Self::restart`].
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes it (SIGSTOP): its sockets stay open and nothing answers, as
    /// with a hung server or a network that drops packets.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// Lets a paused etcd go on (SIGCONT).
    pub fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("etcd runs");
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} etcd");
    }

    /// Starts it again on the same ports and data.
    pub fn restart(&mut self) {
        self.kill();
        self.run();
    }

    fn run(&mut self) {
        let mut command = Command::new("etcd");
        if self.jwt {
            let secret = self.data.path().join("jwt.secret");
            std::fs::write(&secret, uuid::Uuid::new_v4().to_string()).expect("a JWT secret");
            command.arg("--auth-token").arg(format!(
                "jwt,priv-key={},sign-method=HS256",
                secret.display()
            ));
        }
        if let Some(tls) = &self.tls {
            command
                .arg("--cert-file")
                .arg(&tls.server_cert)
                .arg("--key-file")
                .arg(&tls.server_key)
                .arg("--client-cert-auth")
                .arg("--trusted-ca-file")
                .arg(&tls.ca);
        }
        let child = command
            .arg("--listen-metrics-urls")
            .arg(&self.metrics_url)
            .arg("--name")
            .arg("switchboard-test")
            .arg("--data-dir")
            .arg(self.data.path().join("etcd"))
            .arg("--listen-client-urls")
            .arg(&self.url)
            .arg("--advertise-client-urls")
            .arg(&self.url)
            .arg("--listen-peer-urls")
            .arg(&self.peer_url)
            .arg("--initial-advertise-peer-urls")
            .arg(&self.peer_url)
            .arg("--initial-cluster")
            .arg(format!("switchboard-test={}", self.peer_url))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcd starts");
        self.child = Some(child);
        let health = format!("{}/health", self.metrics_url);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if healthy(&self.metrics_url) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "etcd answers at {health} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl EtcdPeer {
    /// Turns etcd's authentication on, with user `root` (role `root`) and
    /// user `user` of `password`, who may read and write the keys under
    /// `prefix` and nothing else.
    pub async fn enable_auth(&self, user: &str, password: &str, prefix: &str) {
        use base64::Engine as _;
        let base64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
        let client = self.client();
        let range_end = format!("{}0", prefix.trim_end_matches('/'));
        for (path, body) in [
            ("role/add", json!({ "name": "root" })),
            (
                "user/add",
                json!({ "name": "root", "password": "root-password" }),
            ),
            ("user/grant", json!({ "user": "root", "role": "root" })),
            ("role/add", json!({ "name": "gateways" })),
            (
                "role/grant",
                json!({ "name": "gateways", "perm": {
                    "permType": "READWRITE", "key": base64(prefix), "range_end": base64(&range_end),
                }}),
            ),
            ("user/add", json!({ "name": user, "password": password })),
            ("user/grant", json!({ "user": user, "role": "gateways" })),
            ("enable", json!({})),
        ] {
            let url = format!("{}/v3/auth/{path}", self.url);
            let answer = client.post_json(&url, &body).await;
            assert!(answer.is_ok(), "etcd {path}: {answer:?}");
        }
    }
}

impl EtcdPeer {
    /// Adds user `name` as `root`: a change of etcd's users, after which
    /// etcd refuses the tokens it gave before ("revision of auth store is
    /// old").
    pub async fn add_user(&self, name: &str) {
        let client = self.client();
        let root = json!({ "name": "root", "password": "root-password" });
        let login = client
            .post_json(&format!("{}/v3/auth/authenticate", self.url), &root)
            .await
            .expect("root logs in");
        let token = login["token"].as_str().expect("a token");
        let request = hyper::Request::post(format!("{}/v3/auth/user/add", self.url))
            .header(hyper::header::AUTHORIZATION, token)
            .body(switchboard::http::Body::from(
                json!({ "name": name, "password": "unused" }).to_string(),
            ))
            .expect("a request");
        let answer = client.request(request).await.expect("etcd answers");
        assert_eq!(answer.status, 200, "{:?}", answer.body);
    }

    /// A client of this etcd, with the client certificate if it wants one.
    fn client(&self) -> switchboard::http::HttpClient {
        let tls = match &self.tls {
            Some(tls) => switchboard::tls::client_config_with_identity(
                Some(&tls.ca),
                Some((&tls.client_cert, &tls.client_key)),
            ),
            None => switchboard::tls::client_config(None),
        };
        switchboard::http::HttpClient::new(tls.expect("the client's certificates load"))
    }
}

impl Drop for EtcdPeer {
    fn drop(&mut self) {
        // A paused etcd dies of SIGKILL too: nothing to resume first.
        self.kill();
    }
}

/// Debian's etcd-server, installed once when the machine lacks it.
fn install() {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _once = INSTALL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if Path::new("/usr/bin/etcd").exists() {
        return;
    }
    let status = Command::new("sh")
        .args([
            "-c",
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server",
        ])
        .status()
        .expect("apt-get runs");
    assert!(status.success(), "installing Debian's etcd-server failed");
}

/// etcd's `/health` says it serves (a plain HTTP/1.0 GET).
fn healthy(url: &str) -> bool {
    use std::io::{Read, Write};
    let address = url.trim_start_matches("http://");
    let Ok(mut stream) = std::net::TcpStream::connect(address) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut answer = String::new();
    stream
        .write_all(b"GET /health HTTP/1.0\r\n\r\n")
        .and_then(|()| stream.read_to_string(&mut answer))
        .is_ok()
        && answer.contains("\"health\":\"true\"")
}

/// A CA, and a server and a client certificate it signed, written into
/// `dir`.
fn certificates(dir: &Path) -> EtcdCerts {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
        IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let write = |name: &str, pem: String| {
        let path = dir.join(name);
        std::fs::write(&path, pem).expect("a certificate file");
        path
    };
    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.distinguished_name
        .push(DnType::CommonName, "switchboard test etcd CA");
    let ca_pem = ca.self_signed(&ca_key).expect("the CA certificate").pem();
    let issuer = Issuer::new(ca, ca_key);
    // etcd's JSON gateway reaches etcd's gRPC with the server certificate,
    // so it serves clients too.
    let leaf = |name: Option<&str>, sans: Vec<String>| {
        let key = KeyPair::generate().expect("a key");
        let mut params = CertificateParams::new(sans).expect("parameters");
        params.distinguished_name = DistinguishedName::new();
        if let Some(name) = name {
            params.distinguished_name.push(DnType::CommonName, name);
        }
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &issuer).expect("a certificate");
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) =
        leaf(Some("etcd"), vec!["127.0.0.1".into(), "localhost".into()]);
    // No Common Name: with its authentication on, etcd refuses requests to
    // its JSON gateway from a certificate that carries one.
    let (client_cert, client_key) = leaf(None, Vec::new());
    EtcdCerts {
        ca: write("ca.pem", ca_pem),
        server_cert: write("server.pem", server_cert),
        server_key: write("server-key.pem", server_key),
        client_cert: write("client.pem", client_cert),
        client_key: write("client-key.pem", client_key),
    }
}

/// A loopback port free now (etcd takes no port 0).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A TCP proxy in front of etcd for one gateway: [`EtcdLine::cut`] makes
/// that gateway's etcd hang (connections stay open, nothing passes), while
/// the others reach etcd as before.
pub struct EtcdLine {
    pub url: String,
    cut: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl EtcdLine {
    pub async fn start(upstream: &str) -> EtcdLine {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let (cut, is_cut) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let upstream = upstream.clone();
                let mut is_cut = is_cut.clone();
                tokio::spawn(async move {
                    let cut_already = *is_cut.borrow();
                    if cut_already {
                        // Held open, never answered.
                        until(&mut is_cut, false).await;
                        return;
                    }
                    let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        () = until(&mut is_cut, true) => {
                            // Both sockets stay open and silent until the
                            // line is mended.
                            until(&mut is_cut, false).await;
                        }
                    }
                });
            }
        });
        EtcdLine { url, cut, task }
    }

    /// From now on nothing passes: the gateway's etcd hangs.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Things pass again: the connections held open go on (and answer
    /// late), new ones reach etcd.
    pub fn mend(&self) {
        self.cut.send_replace(false);
    }
}

async fn until(cut: &mut tokio::sync::watch::Receiver<bool>, value: bool) {
    let _ = cut.wait_for(|now| *now == value).await;
}

impl Drop for EtcdLine {
    fn drop(&mut self) {
        self.task.abort();
    }
}
