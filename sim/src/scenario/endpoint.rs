//! Packet endpoints as scenarios write them: `pod/NS/NAME[/CONTAINER][:PORT]`,
//! `node/NAME[:PORT]`, `IP[:PORT]`.

use std::net::Ipv4Addr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointKind {
    /// A pod (`namespace/name`), optionally naming the container that sends.
    Pod {
        key: String,
        container: Option<String>,
    },
    Node(String),
    Ip(Ipv4Addr),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub kind: EndpointKind,
    pub port: Option<u16>,
}

impl std::str::FromStr for Endpoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Endpoint, String> {
        let (body, port) = match s.rsplit_once(':') {
            Some((b, p)) => {
                let port = p
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("`{p}` is not a port (1 to 65535)"))?;
                (b, Some(port))
            }
            None => (s, None),
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
            [ip] => EndpointKind::Ip(
                ip.parse()
                    .map_err(|_| format!("`{s}` is not an endpoint"))?,
            ),
            _ => return Err(format!("`{s}` is not an endpoint")),
        };
        Ok(Endpoint { kind, port })
    }
}

/// What a valid endpoint looks like, for hints.
pub const ENDPOINT_FORMS: &str = "write pod/NAMESPACE/NAME[:PORT], pod/NAMESPACE/NAME/CONTAINER, node/NAME or an IPv4 address[:PORT]";

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
    fn rejects_nonsense() {
        for bad in [
            "pod/web",
            "pods/a/b",
            "node/",
            "10.244.2.2:0",
            "10.244.2.2:70000",
            "web",
            "pod/a/b:x",
        ] {
            assert!(bad.parse::<Endpoint>().is_err(), "{bad}");
        }
    }
}
