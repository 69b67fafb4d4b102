//! Clusters as people have them: a kubectl dump (YAML List, JSON, several documents) read
//! straight by trace/policy and made a scenario by `kpath import kubectl`, and manifests
//! applied to a cluster skeleton as the control plane would. What the dump does not say is
//! stated; what kpath cannot model is named; bad input is located.

mod common;

use common::kpath;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/kubectl")
        .join(name)
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = kpath().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kpath-import-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let f = dir.join(name);
    std::fs::write(&f, text).unwrap();
    f
}

fn dump() -> String {
    fixture("kubeadm-flannel.yaml").display().to_string()
}

/// Every node's state as `kpath show` prints it: the whole built cluster.
fn show(file: &str) -> String {
    let mut all = String::new();
    for node in ["master", "worker-1"] {
        let (code, out, err) = run(&["show", file, "--node", node]);
        assert_eq!(code, 0, "{err}");
        all.push_str(&out);
    }
    all
}

#[test]
fn a_dump_is_traced_as_it_is_and_only_ready_pods_serve() {
    let d = dump();
    let (code, out, err) = run(&[
        "trace",
        &d,
        "--from",
        "pod/default/client",
        "--to",
        "service/web/nginx:80",
        "--all-outcomes",
    ]);
    assert_eq!(code, 0, "{err}");
    // Two nginx pods; the one whose Ready condition is False is no endpoint.
    assert!(out.contains("10.244.1.4:80"), "{out}");
    assert!(!out.contains("10.244.1.5"), "{out}");
    // The dump's own NodePort and the flannel VNI from the node annotations.
    let (_, shown, _) = run(&["show", &d, "--node", "worker-1", "--iptables"]);
    assert!(shown.contains("--dport 31080"), "{shown}");
    assert!(show(&d).contains("vxlan id 1 "));
    // What it assumed, and what it left out, are said.
    assert!(
        err.contains("assumed: the pod network is 10.244.0.0/16"),
        "{err}"
    );
    assert!(
        err.contains("assumed: kube-proxy runs in iptables mode"),
        "{err}"
    );
    assert!(
        err.contains("left out: pod web/web-pending is not scheduled"),
        "{err}"
    );
}

#[test]
fn json_and_yaml_dumps_give_the_same_cluster_and_configmaps_settle_what_was_assumed() {
    let (code, _, err) = run(&[
        "show",
        &fixture("kubeadm-flannel-full.json").display().to_string(),
        "--node",
        "master",
    ]);
    assert_eq!(code, 0, "{err}");
    // The JSON dump carries kube-proxy's and flannel's ConfigMaps: nothing about the
    // pod network or the mode is assumed, and the Ingress is named as not read.
    assert!(!err.contains("the pod network is"), "{err}");
    assert!(!err.contains("iptables mode"), "{err}");
    assert!(err.contains("not modelled: 1 Ingress object"), "{err}");
    let (_, ipvs, _) = run(&[
        "show",
        &fixture("kubeadm-flannel-full.json").display().to_string(),
        "--node",
        "master",
        "--ipvs",
    ]);
    assert!(
        ipvs.contains("10.103.45.17:80"),
        "kube-proxy's ConfigMap says ipvs: {ipvs}"
    );
}

#[test]
fn import_writes_a_scenario_that_loads_to_the_same_cluster() {
    let d = dump();
    let dir = temp_dir("roundtrip");
    let out = dir.join("cluster.yaml");
    let (code, msg, err) = run(&["import", "kubectl", &d, "-o", &out.display().to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(msg.contains("2 nodes, 5 pods, 3 Services"), "{msg}");
    let text = std::fs::read_to_string(&out).unwrap();
    // Readable: where it came from, what was assumed, each group under a comment.
    assert!(
        text.starts_with("# Imported by `kpath import kubectl"),
        "{text}"
    );
    assert!(
        text.contains("# assumed: the service CIDR is 10.96.0.0/12"),
        "{text}"
    );
    assert!(text.contains("  # namespace web\n"), "{text}");
    // A node's default route, which a dump does not show, is a stated gateway.
    assert!(
        text.contains("internet:\n  gateway: {ip: 192.168.56.1, publicIP: 203.0.113.1}"),
        "{text}"
    );
    assert!(
        text.contains("# assumed: the nodes' default route is via 192.168.56.1"),
        "{text}"
    );
    // The `kubernetes` Service has no selector: its slice is written as the dump holds it.
    assert!(
        text.contains("endpointSlices:\n  - name: kubernetes"),
        "{text}"
    );
    assert_eq!(show(&out.display().to_string()), show(&d));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn several_documents_and_what_kpath_cannot_model_is_named() {
    let dir = temp_dir("multidoc");
    // The JSON dump's items as separate documents (JSON is YAML), plus an IPv6-only
    // Service and a CRD.
    let json = std::fs::read_to_string(fixture("kubeadm-flannel-full.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let items = v["items"].clone();
    let mut docs: Vec<String> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| serde_json::to_string(i).unwrap())
        .collect();
    docs.push("apiVersion: v1\nkind: Service\nmetadata: {name: v6, namespace: web}\nspec:\n  clusterIP: fd00:10:96::5\n  ipFamilies: [IPv6]\n  ports: [{port: 80}]\n".into());
    docs.push("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x}\nspec: {endpointSelector: {}}\n".into());
    let f = write(&dir, "dump.yaml", &docs.join("\n---\n"));
    let (code, _, err) = run(&["show", &f.display().to_string(), "--node", "master"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("not modelled: Service web/v6 is IPv6 only"),
        "{err}"
    );
    assert!(
        err.contains("not modelled: 1 CiliumNetworkPolicy object"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_values_in_a_dump_are_located() {
    let dir = temp_dir("bad");
    let text = std::fs::read_to_string(fixture("kubeadm-flannel.yaml"))
        .unwrap()
        .replace("podIP: 10.244.1.4\n", "podIP: banana\n");
    let f = write(&dir, "dump.yaml", &text);
    let (code, _, err) = run(&[
        "trace",
        &f.display().to_string(),
        "--from",
        "pod/default/client",
        "--to",
        "10.244.1.4:80",
    ]);
    assert_ne!(code, 0);
    let line = text
        .lines()
        .position(|l| l.contains("podIP: banana"))
        .unwrap()
        + 1;
    assert!(err.contains(&format!("dump.yaml:{line}:")), "{err}");
    assert!(err.contains("`banana` is not an IP address"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    let f = write(
        &dir,
        "nokind.yaml",
        "apiVersion: v1\nmetadata: {name: lost}\n",
    );
    let (code, _, err) = run(&["import", "kubectl", &f.display().to_string()]);
    assert_ne!(code, 0);
    assert!(
        err.contains("nokind.yaml:2:") && err.contains("has no kind"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn manifests_are_applied_as_the_control_plane_would_and_errors_name_their_file() {
    let dir = temp_dir("manifests");
    let skeleton = write(
        &dir,
        "cluster.yaml",
        "cluster:\n  podCIDR: 10.244.0.0/16\n  serviceCIDR: 10.96.0.0/12\n  cni: {plugin: flannel, backend: vxlan}\n  underlay: {cidr: 172.31.0.0/24, mtu: 1500}\n  nodes:\n    - {name: a, ip: 172.31.0.11, podCIDR: 10.244.1.0/24}\n    - {name: b, ip: 172.31.0.12, podCIDR: 10.244.2.0/24}\n",
    );
    let m = dir.join("m");
    std::fs::create_dir_all(&m).unwrap();
    write(
        &m,
        "web.yaml",
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web, namespace: shop}\nspec:\n  replicas: 3\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: nginx, ports: [{containerPort: 8080, name: http}]}]}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {app: web}\n  ports: [{port: 80, targetPort: http}]\n",
    );
    write(
        &m,
        "agent.yaml",
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n  template:\n    metadata: {labels: {app: agent}}\n    spec: {containers: [{name: a}]}\n",
    );
    let sk = skeleton.display().to_string();
    let md = m.display().to_string();
    let (code, out, err) = run(&[
        "trace",
        &sk,
        "-f",
        &md,
        "--from",
        "pod/shop/web-0",
        "--to",
        "service/shop/web:80",
        "--all-outcomes",
    ]);
    assert_eq!(code, 0, "{err}");
    // Ordinals, spread over the nodes with the fewest pods first (the DaemonSet's pods are
    // placed before: agent.yaml sorts first), addressed from .2 of each node's podCIDR.
    for endpoint in ["10.244.1.3:8080", "10.244.2.3:8080", "10.244.1.4:8080"] {
        assert!(out.contains(endpoint), "{endpoint}: {out}");
    }
    assert!(err.contains("got ClusterIP 10.96.1.0"), "{err}");
    // The same again: the same names and addresses.
    let (_, again, _) = run(&[
        "trace",
        &sk,
        "-f",
        &md,
        "--from",
        "pod/shop/web-0",
        "--to",
        "service/shop/web:80",
        "--all-outcomes",
    ]);
    assert_eq!(out, again);
    // A bad value in a manifest is located in that manifest, not in the skeleton.
    write(
        &m,
        "zz-bad.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec:\n  type: Nodeport\n  ports: [{port: 80}]\n",
    );
    let (code, _, err) = run(&[
        "trace",
        &sk,
        "-f",
        &md,
        "--from",
        "pod/shop/web-0",
        "--to",
        "10.244.1.2:80",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("zz-bad.yaml:5:9"), "{err}");
    assert!(
        err.contains("`Nodeport` is not a value of spec.type"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A dump defines no packet: `kpath tui DUMP` says which question to ask of this cluster,
/// and `--from/--to` ask it (checked as trace checks them, before the terminal opens).
#[test]
fn tui_on_a_dump_asks_for_a_packet_and_checks_the_one_given() {
    let d = dump();
    let (code, _, err) = run(&["tui", &d]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("has no packets or flows to show"), "{err}");
    assert!(
        err.contains("--from pod/default/client --to service/"),
        "{err}"
    );
    let (code, _, err) = run(&[
        "tui",
        &d,
        "--from",
        "pod/default/clint",
        "--to",
        "service/web/nginx:80",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--from pod/default/clint"), "{err}");
}

/// The scheduler's filters: a control-plane taint keeps pods off unless tolerated, a
/// cordoned node takes only a DaemonSet's, nodeSelector reads the nodes' labels; a pod
/// that fits nowhere stays Pending and the answer says why; generateName makes a name.
#[test]
fn manifests_are_scheduled_by_taints_labels_and_cordons() {
    let dir = temp_dir("taints");
    let skeleton = write(
        &dir,
        "cluster.yaml",
        "cluster:\n  podCIDR: 10.244.0.0/16\n  serviceCIDR: 10.96.0.0/12\n  cni: {plugin: flannel, backend: vxlan}\n  underlay: {cidr: 172.31.0.0/24, mtu: 1500}\n  nodes:\n    - {name: cp, ip: 172.31.0.10, podCIDR: 10.244.0.0/24, taints: [{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}]}\n    - {name: w1, ip: 172.31.0.11, podCIDR: 10.244.1.0/24, labels: {disk: ssd}}\n    - {name: w2, ip: 172.31.0.12, podCIDR: 10.244.2.0/24, unschedulable: true}\n",
    );
    let m = dir.join("m");
    std::fs::create_dir_all(&m).unwrap();
    write(
        &m,
        "all.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 2\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, ports: [{containerPort: 80}]}]}\n\
---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n  template:\n    metadata: {labels: {app: agent}}\n    spec: {containers: [{name: a}]}\n\
---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: flannel}\nspec:\n  template:\n    metadata: {labels: {app: flannel}}\n    spec: {tolerations: [{operator: Exists, effect: NoSchedule}], containers: [{name: f}]}\n\
---\napiVersion: v1\nkind: Pod\nmetadata: {generateName: debug-}\nspec: {nodeSelector: {disk: ssd}, containers: [{name: d}]}\n\
---\napiVersion: v1\nkind: Pod\nmetadata: {name: gpu}\nspec: {nodeSelector: {gpu: 'true'}, containers: [{name: g}]}\n",
    );
    // Where each pod went: the policy matrix lists every pod that runs.
    let (code, out, err) = run(&[
        "policy",
        &skeleton.display().to_string(),
        "-f",
        &m.display().to_string(),
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let pods: Vec<String> = v["matrices"][0]["pods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap_or_default().to_string())
        .collect();
    let count = |prefix: &str| pods.iter().filter(|p| p.starts_with(prefix)).count();
    // Both replicas on w1: cp is tainted, w2 cordoned.
    assert_eq!(count("default/web-"), 2, "{pods:?}");
    // The plain DaemonSet skips the tainted cp but runs on cordoned w2; the tolerating one
    // runs everywhere.
    assert_eq!(count("default/agent-"), 2, "{pods:?}");
    assert_eq!(count("default/flannel-"), 3, "{pods:?}");
    assert!(err.contains("DaemonSet default/agent: no pod on node cp: taint node-role.kubernetes.io/control-plane:NoSchedule not tolerated"), "{err}");
    // generateName: the prefix and five generated characters.
    assert_eq!(count("default/debug-"), 1, "{pods:?}");
    assert!(
        pods.iter()
            .any(|p| p.len() == "default/debug-".len() + 5 && p.starts_with("default/debug-"))
    );
    // The gpu pod fits no node: left out, with each node's reason.
    assert_eq!(count("default/gpu"), 0, "{pods:?}");
    assert!(err.contains("pod default/gpu: no node fits it (it stays Pending): cp: nodeSelector gpu=true (no such label)"), "{err}");
    assert!(err.contains("w2: nodeSelector gpu=true"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// flannel's VtepMAC from a node's backend-data is flannel.1's MAC, and the one the other
/// nodes' FDB and neighbour entries name; the scenario import writes keeps it.
#[test]
fn a_dumps_vtep_macs_are_flannels_devices_macs() {
    let d = dump();
    let (code, out, err) = run(&["show", &d, "--node", "worker-1"]);
    assert_eq!(code, 0, "{err}");
    // master's VtepMAC, in worker-1's FDB towards master's address.
    assert!(out.contains("6e:3b:2a:0f:51:9c"), "{out}");
    assert!(out.contains("a2:71:0c:9e:44:e0"), "{out}");
    let dir = temp_dir("vtep");
    let f = dir.join("cluster.yaml");
    let (code, _, err) = run(&["import", "kubectl", &d, "-o", f.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(text.contains("vtepMAC: \"6e:3b:2a:0f:51:9c\""), "{text}");
    assert!(
        text.contains("taints: [{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}]"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Services without endpoints in a dump written as one line of JSON: each of the first 20
/// is warned of at its own selector, the rest are named in one warning.
#[test]
fn many_services_without_endpoints_are_warned_of_once_each_then_summed_up() {
    let mut items = vec![
        r#"{"kind":"Node","metadata":{"name":"n1","annotations":{"flannel.alpha.coreos.com/backend-type":"vxlan"}},"spec":{"podCIDR":"10.244.1.0/24"},"status":{"addresses":[{"type":"InternalIP","address":"172.31.0.11"}]}}"#.to_string(),
        r#"{"kind":"Pod","metadata":{"name":"c","namespace":"default","labels":{"app":"c"}},"spec":{"nodeName":"n1","containers":[{"name":"c"}]},"status":{"podIP":"10.244.1.2","conditions":[{"type":"Ready","status":"True"}]}}"#.to_string(),
    ];
    for j in 0..25 {
        items.push(format!(r#"{{"kind":"Service","metadata":{{"name":"s{j}","namespace":"default"}},"spec":{{"clusterIP":"10.96.0.{}","selector":{{"app":"x{j}"}},"ports":[{{"port":80}}]}}}}"#, j + 10));
    }
    let dir = temp_dir("lint");
    let f = write(
        &dir,
        "dump.json",
        &format!(r#"{{"kind":"List","items":[{}]}}"#, items.join(",")),
    );
    let (code, _, err) = run(&[
        "trace",
        f.to_str().unwrap(),
        "--from",
        "pod/default/c",
        "--to",
        "10.96.0.10:80",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(err.matches("matches no pod").count(), 20, "{err}");
    assert!(
        err.contains("5 more Services' selectors match no pod"),
        "{err}"
    );
    assert!(err.contains("default/s24 (app=x24)"), "{err}");
    // s7's warning points at s7's own selector on the one line.
    let text = std::fs::read_to_string(&f).unwrap();
    let s7 = text.find(r#""name":"s7""#).unwrap();
    let col = s7 + text[s7..].find("selector").unwrap() + 1;
    let w = err
        .split("warning:")
        .find(|w| w.contains("`default/s7`"))
        .unwrap();
    assert!(w.contains(&format!("dump.json:1:{col}")), "{w}");
    std::fs::remove_dir_all(&dir).ok();
}
