//! A real 3-node nats-server cluster with JetStream on loopback, for the tests of the
//! clustered shape: nodes can be killed outright (SIGKILL) and started again on their store.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One node: its ports, its directory (config, store, pid file) and its process.
struct Node {
    name: String,
    client_port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

/// A running cluster. Nodes stop (and the directory is removed) when it is dropped or when
/// the test process exits (each node's wrapper shell ends it when its stdin closes).
pub struct Cluster {
    nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

/// Free loopback ports (bound and released: another process could take one meanwhile, which
/// would make a node fail to start, loudly).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> =
        (0..n).map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("free port")).collect();
    listeners.iter().map(|l| l.local_addr().expect("addr").port()).collect()
}

impl Cluster {
    /// Starts `n` clustered nodes and waits until they answer as one JetStream cluster.
    pub fn start(n: usize) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let ports = free_ports(2 * n);
        let (clients, routes) = ports.split_at(n);
        let route_list: Vec<String> = routes.iter().map(|p| format!("nats-route://127.0.0.1:{p}")).collect();
        let mut nodes = Vec::new();
        for i in 0..n {
            let node_dir = dir.path().join(format!("n{}", i + 1));
            std::fs::create_dir_all(node_dir.join("jetstream")).expect("node dir");
            let conf = format!(
                "server_name: n{i}\nhost: 127.0.0.1\nport: {client}\npid_file: {pid:?}\nlog_file: {log:?}\n\
                 jetstream {{\n  store_dir: {store:?}\n  sync_interval: always\n}}\n\
                 cluster {{\n  name: fleetlog-test\n  host: 127.0.0.1\n  port: {route}\n  routes: [{routes}]\n}}\n",
                i = i + 1,
                client = clients[i],
                route = routes[i],
                routes = route_list.join(", "),
                pid = node_dir.join("pid").display().to_string(),
                log = node_dir.join("log").display().to_string(),
                store = node_dir.join("jetstream").display().to_string(),
            );
            std::fs::write(node_dir.join("nats.conf"), conf).expect("node config");
            nodes.push(Node {
                name: format!("n{}", i + 1),
                client_port: clients[i],
                dir: node_dir,
                child: None,
            });
        }
        let mut cluster = Cluster { nodes, _dir: dir };
        for i in 0..n {
            cluster.start_node(i);
        }
        cluster
    }

    /// Waits until the nodes answer as one JetStream cluster (a meta leader is elected): up to
    /// a minute on a loaded machine.
    pub async fn ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        for url in self.urls().split(',') {
            loop {
                let ok = match async_nats::connect(url).await {
                    Ok(client) => async_nats::jetstream::new(client).query_account().await.is_ok(),
                    Err(_) => false,
                };
                if ok {
                    break;
                }
                assert!(Instant::now() < deadline, "the cluster's JetStream did not come up at {url}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    /// The nodes' client URLs, comma-separated (what `--nats-url` takes).
    pub fn urls(&self) -> String {
        self.nodes.iter().map(|n| format!("nats://127.0.0.1:{}", n.client_port)).collect::<Vec<_>>().join(",")
    }

    /// The index of the node named `name` (as JetStream names a leader).
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// The nodes not running (killed and not started again).
    pub fn down(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|i| self.nodes[*i].child.is_none()).collect()
    }

    /// Kills node `i` outright (SIGKILL: no flush, no goodbye to its peers).
    pub fn kill(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let pid = read_pid(&node.dir).expect("node pid");
        let status = Command::new("kill").arg("-9").arg(pid.to_string()).status().expect("kill");
        assert!(status.success(), "kill -9 {pid}");
        if let Some(mut wrapper) = node.child.take() {
            // The wrapper exits once its server is gone and its stdin is closed.
            drop(wrapper.stdin.take());
            let _ = wrapper.wait();
        }
        let _ = std::fs::remove_file(node.dir.join("pid"));
    }

    /// Starts node `i` (again) on its store and waits until it accepts clients.
    pub fn start_node(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let bin = crate::nats_server_bin();
        let child = Command::new("sh")
            .arg("-c")
            .arg(r#""$0" "$@" & pid=$!; read _; kill -TERM "$pid"; wait "$pid""#)
            .arg(&bin)
            .arg("-c")
            .arg(node.dir.join("nats.conf"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start nats-server");
        node.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", node.client_port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "node {} did not start; see {}",
                node.name,
                node.dir.join("log").display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn read_pid(dir: &Path) -> Option<u32> {
    std::fs::read_to_string(dir.join("pid")).ok()?.trim().parse().ok()
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut wrapper) = node.child.take() {
                drop(wrapper.stdin.take());
                let _ = wrapper.wait();
            }
        }
    }
}
