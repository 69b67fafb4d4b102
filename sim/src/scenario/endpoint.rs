//! Packet endpoints as scenarios write them: `pod/NS/NAME[/CONTAINER][:PORT]`,
//! `node/NAME[:PORT]`, `service/NS/NAME:PORT` (port by number or name), `host/NAME[:PORT]`
//! (an internet host), `IP[:PORT]`, or a DNS name (`web:80`,
//! `web.default.svc.cluster.local:80`).

use std::net::Ipv4Addr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointKind {
    /// A pod (`namespace/name`), optionally naming the container that sends.
    Pod {
        key: String,
        container: Option<String>,
    },
    Node(String),
    /// A Service (`namespace/name`): its ClusterIP.
    Service(String),
    /// An internet host of the scenario.
    Host(String),
    Ip(Ipv4Addr),
    /// A name for the resolver.
    Dns(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub kind: EndpointKind,
    pub port: Option<u16>,
    /// A Service port given by name (`service/default/web:http`).
    pub port_name: Option<String>,
}

/// A hostname: dot-separated labels of letters, digits and `-`, at least one letter.
fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.chars().any(|c| c.is_ascii_alphabetic())
        && s.trim_end_matches('.').split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

impl std::str::FromStr for Endpoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Endpoint, String> {
        let is_service = s.starts_with("service/");
        let (body, port, port_name) = match s.rsplit_once(':') {
            Some((b, p)) => match p.parse::<u16>() {
                Ok(n) if n != 0 => (b, Some(n), None),
                _ if is_service && is_hostname(p) && !p.contains('.') => {
                    (b, None, Some(p.to_string()))
                }
                _ => return Err(format!("`{p}` is not a port (1 to 65535)")),
            },
            None => (s, None, None),
        };
        let parts: Vec<&str> = body.split('/').collect();
        let kind = match parts.as_slice() {
            ["pod", ns, name] if !ns.is_empty() && !name.is_empty() => EndpointKind::Pod {
                key: format!("{ns}/{name}"),
                container: None,
            },
            ["pod", ns, name, c] if !ns.is_empty() && !name.is_empty() && !c.is_empty() => {
                EndpointKind::Pod {
                    key: format!("{ns}/{name}"),
                    container: Some(c.to_string()),
                }
            }
            ["node", name] if !name.is_empty() => EndpointKind::Node(name.to_string()),
            ["service", ns, name] if !ns.is_empty() && !name.is_empty() => {
                EndpointKind::Service(format!("{ns}/{name}"))
            }
            ["host", name] if !name.is_empty() => EndpointKind::Host(name.to_string()),
            [one] => match one.parse::<Ipv4Addr>() {
                Ok(ip) => EndpointKind::Ip(ip),
                Err(_) if is_hostname(one) => EndpointKind::Dns(one.to_string()),
                Err(_) => return Err(format!("`{s}` is not an endpoint")),
            },
            _ => return Err(format!("`{s}` is not an endpoint")),
        };
        Ok(Endpoint {
            kind,
            port,
            port_name,
        })
    }
}

/// What a valid endpoint looks like, for hints.
pub const ENDPOINT_FORMS: &str = "write pod/NAMESPACE/NAME[:PORT], pod/NAMESPACE/NAME/CONTAINER, node/NAME, service/NAMESPACE/NAME:PORT, host/NAME, an IPv4 address[:PORT] or a DNS name[:PORT]";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let e: Endpoint = "pod/default/web:80".parse().unwrap();
        assert_eq!(e.port, Some(80));
        assert_eq!(
            e.kind,
            EndpointKind::Pod {
                key: "default/web".into(),
                container: None
            }
        );
        let e: Endpoint = "pod/default/web/nginx".parse().unwrap();
        assert!(matches!(e.kind, EndpointKind::Pod { container: Some(ref c), .. } if c == "nginx"));
        assert_eq!(
            "node/node-1".parse::<Endpoint>().unwrap().kind,
            EndpointKind::Node("node-1".into())
        );
        let e: Endpoint = "10.244.2.2:8080".parse().unwrap();
        assert_eq!(
            (e.kind, e.port),
            (EndpointKind::Ip(Ipv4Addr::new(10, 244, 2, 2)), Some(8080))
        );
    }

    #[test]
    fn services_hosts_and_names() {
        let e: Endpoint = "service/default/web:http".parse().unwrap();
        assert_eq!(
            (e.kind, e.port, e.port_name.as_deref()),
            (
                EndpointKind::Service("default/web".into()),
                None,
                Some("http")
            )
        );
        let e: Endpoint = "service/default/web:80".parse().unwrap();
        assert_eq!(e.port, Some(80));
        assert_eq!(
            "host/laptop".parse::<Endpoint>().unwrap().kind,
            EndpointKind::Host("laptop".into())
        );
        let e: Endpoint = "web.default.svc.cluster.local:80".parse().unwrap();
        assert_eq!(
            (e.kind, e.port),
            (
                EndpointKind::Dns("web.default.svc.cluster.local".into()),
                Some(80)
            )
        );
        assert_eq!(
            "web".parse::<Endpoint>().unwrap().kind,
            EndpointKind::Dns("web".into())
        );
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [
            "pod/web",
            "pods/a/b",
            "node/",
            "10.244.2.2:0",
            "10.244.2.2:70000",
            "web_site",
            "-web",
            "pod/a/b:x",
            "host/a:b",
        ] {
            assert!(bad.parse::<Endpoint>().is_err(), "{bad}");
        }
    }
}
