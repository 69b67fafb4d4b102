//! Cluster DNS in the lab: what makes `curl web`, `nc -zv web 80` or `dig` in a lab pod meet
//! what kpath's walk predicts. Each pod namespace gets the resolv.conf kubelet writes (`ip
//! netns exec` bind-mounts `/etc/netns/NAME/resolv.conf` over `/etc/resolv.conf`), and each
//! CoreDNS pod (a ready endpoint of kube-system/kube-dns) runs a responder that answers as
//! [`crate::k8s::dns`] does. This module decides what to write and what to answer; the binary
//! writes the files and runs the responder.

use crate::cluster::Cluster;
use crate::k8s::dns::{self as cluster_dns, CLUSTER_DOMAIN};
use crate::net::{NsKind, World};
use crate::wire::dns::{Dns, RData, TYPE_A};

/// The pods that answer the kube-dns Service (its ready endpoints), as world namespace names.
pub fn servers(c: &Cluster) -> Vec<String> {
    let Some(svc) = c.service(cluster_dns::KUBE_DNS) else {
        return Vec::new();
    };
    let mut out: Vec<String> = c
        .slices_of(svc)
        .flat_map(|s| &s.endpoints)
        .filter(|e| e.conditions.ready)
        .filter_map(|e| c.pods.iter().find(|p| p.ip == e.address))
        .map(|p| p.netns())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Each pod namespace's resolv.conf, as kubelet writes it for `dnsPolicy: ClusterFirst`;
/// none when the scenario has no cluster DNS to point at.
pub fn resolv_confs(c: &Cluster, w: &World) -> Vec<(String, String)> {
    let Ok((ip, _)) = cluster_dns::server(c) else {
        return Vec::new();
    };
    w.netns
        .iter()
        .filter_map(|n| match &n.kind {
            NsKind::Pod { namespace, .. } => Some((
                n.name.clone(),
                format!(
                    "nameserver {ip}\nsearch {namespace}.svc.{CLUSTER_DOMAIN} svc.{CLUSTER_DOMAIN} {CLUSTER_DOMAIN}\noptions ndots:5\n"
                ),
            )),
            _ => None,
        })
        .collect()
}

/// The answer to a query's bytes, as bytes; None for what is not a one-question query.
/// A records as kpath's model gives them; for other types (a resolver also asks AAAA) the
/// same name answers with no records of that type (NODATA), keeping an ExternalName's CNAME.
pub fn respond(c: &Cluster, query: &[u8]) -> Option<Vec<u8>> {
    let q = Dns::parse(query).ok()?;
    if q.is_response() || q.questions.len() != 1 {
        return None;
    }
    let question = &q.questions[0];
    let reply = cluster_dns::answer(c, &question.name);
    let mut m = reply.message(&q);
    if question.qtype != TYPE_A {
        m.answers.retain(|r| matches!(r.data, RData::Cname(_)));
    }
    Some(m.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_scenario;

    fn cluster(name: &str) -> (crate::scenario::Scenario, World) {
        let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios")
            .join(format!("{name}.yaml"));
        let s = load_scenario(&p).unwrap();
        let w = crate::k8s::build_world(s.model(), s.seed).unwrap();
        (s, w)
    }

    #[test]
    fn coredns_pods_serve_and_every_pod_points_at_kube_dns() {
        let (s, w) = cluster("pod-to-clusterip-same-node");
        assert_eq!(servers(s.model()), ["kube-system/coredns"]);
        let confs = resolv_confs(s.model(), &w);
        let client = confs.iter().find(|(n, _)| n == "default/client").unwrap();
        assert_eq!(
            client.1,
            "nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"
        );
        let (s, w) = cluster("pod-to-pod-same-node");
        assert!(servers(s.model()).is_empty());
        assert!(
            resolv_confs(s.model(), &w).is_empty(),
            "no kube-dns, no resolv.conf"
        );
    }

    #[test]
    fn the_responder_answers_a_and_aaaa_as_the_model_does() {
        let (s, _) = cluster("externalname");
        let ask = |qtype| Dns::query(7, "db.shop.svc.cluster.local", qtype).to_bytes();
        let a = Dns::parse(&respond(s.model(), &ask(TYPE_A)).unwrap()).unwrap();
        assert_eq!(a.id, 7);
        assert_eq!(
            a.addresses(),
            ["203.0.113.20".parse::<std::net::Ipv4Addr>().unwrap()]
        );
        let aaaa = Dns::parse(&respond(s.model(), &ask(28)).unwrap()).unwrap();
        assert!(aaaa.addresses().is_empty());
        assert!(matches!(&aaaa.answers[..], [r] if matches!(r.data, RData::Cname(_))));
        assert_eq!(aaaa.rcode(), 0, "NODATA, not NXDOMAIN");
        assert!(respond(s.model(), b"not dns").is_none());
    }
}
