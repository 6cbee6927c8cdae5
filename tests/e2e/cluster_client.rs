//! The real `mender-client` on the clustered shape: onboarded through replica A, it installs
//! an artifact that `mender-cli` uploaded through replica B into S3 (a real SeaweedFS), from
//! the presigned link A gives it; the deployment finishes on both replicas, whose read models
//! then hash-equal.

use fleetlog_tests::cluster::Cluster;

use crate::cluster::cluster_log;
use crate::mender_client::{Device, admit_real_client, clients_available};
use crate::mender_update::{Cli, deploy_and_wait, sh};
use crate::server::Server;

const SECRET: &str = "cluster-client-test-link-secret-42";

#[tokio::test]
async fn a_real_client_onboarded_on_a_installs_what_b_stored_in_s3() {
    if !clients_available() {
        return;
    }
    let Some(weed) = fleetlog_storage::testing::SeaweedFs::start_or_skip("cluster real client") else {
        return;
    };
    let cluster = tokio::task::spawn_blocking(|| Cluster::start(3)).await.unwrap();
    cluster.ready().await;
    let (dir, conn) = cluster_log(&cluster).await;
    let storage = weed.storage_config("fleetlog-cluster");
    let shared = |args: &mut fleetlog_gateway::settings::ServeArgs| {
        args.storage = storage.clone();
        args.storage.link_secret = Some(SECRET.into());
    };
    let a = Server::start_on(dir, conn, shared).await;
    let b = a.replica_server(shared).await;

    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("target");
    std::fs::create_dir_all(&target).unwrap();
    let mac = "02:fe:00:00:0c:01";
    std::fs::write(work.path().join("app.conf"), "installed across replicas\n").unwrap();
    let generator = "/usr/share/doc/mender-client/examples/single-file-artifact-gen";
    let gen_line = format!(
        "sh {generator} -n cluster-1 -t test-device -d {} -o cluster-1.mender app.conf",
        target.display()
    );
    sh(&gen_line, work.path()).await;
    let cli = Cli::new(&b).await;
    let file = work.path().join("cluster-1.mender");
    cli.run(&["artifacts", "upload", "--no-progress", file.to_str().unwrap()]).await;

    let device = Device::new(&a.base, mac);
    let key = device.path("mender-agent.pem");
    sh(&format!("openssl genpkey -algorithm ed25519 -out {}", key.display()), work.path()).await;
    let id = admit_real_client(&a, &device).await;
    let mut daemon = device.daemon();
    // B checks the device against its own read models: it must have applied A's admission.
    let written = a.state.store().last_seq().await.unwrap();
    assert!(b.state.read_models.wait_for(written, std::time::Duration::from_secs(30)).await, "B caught up");
    let done = deploy_and_wait(&b, "across replicas", "cluster-1", &id).await;
    let _ = daemon.kill().await;
    assert_eq!(done["statistics"]["status"]["success"], 1, "{done}");
    assert_eq!(std::fs::read_to_string(target.join("app.conf")).unwrap(), "installed across replicas\n");
    let (_, seen_on_a) =
        a.get(&format!("/api/management/v1/deployments/deployments/{}", done["id"].as_str().unwrap())).await;
    assert_eq!(seen_on_a["status"], "finished", "{seen_on_a}");

    // Both replicas applied the same log: once both are at its end, their models are equal.
    crate::cluster::assert_same_read_models(&a, &b).await;
    drop(cluster);
}
