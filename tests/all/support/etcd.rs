//! A real etcd (Debian's `etcd-server`, installed with apt when the
//! machine lacks it) on loopback ports of its own, with its data in a
//! temporary directory. Killed on drop.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct EtcdPeer {
    child: Option<Child>,
    pub url: String,
    peer_url: String,
    data: tempfile::TempDir,
}

impl EtcdPeer {
    pub fn start() -> EtcdPeer {
        install();
        // In memory where the machine has it: etcd syncs every write, and a
        // loaded CI disk would make its answers slow.
        let data = match std::path::Path::new("/dev/shm").is_dir() {
            true => tempfile::tempdir_in("/dev/shm"),
            false => tempfile::tempdir(),
        }
        .expect("temp dir");
        let mut peer = EtcdPeer {
            child: None,
            url: format!("http://127.0.0.1:{}", free_port()),
            peer_url: format!("http://127.0.0.1:{}", free_port()),
            data,
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
        let child = Command::new("etcd")
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
        let health = format!("{}/health", self.url);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if healthy(&self.url) {
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
