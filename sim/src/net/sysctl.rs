//! The sysctls a namespace runs with, the ones the datapath reads, named as `sysctl` names
//! them.
//!
//! `net.ipv4.conf.{all,default,DEV}.*` follow `include/linux/inetdevice.h`: rp_filter is the
//! larger of `all` and the device's own (`IN_DEV_MAXCONF`), route_localnet is on if either is
//! (`IN_DEV_ORCONF`), and a device starts with `default`'s values (`inetdev_init`). A new
//! namespace copies `all` and `default` (ip_forward is `all.forwarding`) from the host's
//! (`devinet_init_net` with `net.core.devconf_inherit_init_net=0`, the default): a pod
//! inherits what its node runs with.

use std::collections::BTreeMap;

/// A device's `net.ipv4.conf.*` values that the datapath reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DevConf {
    /// 0 off, 1 strict, 2 loose (RFC 3704), checked by `fib_validate_source`.
    pub rp_filter: u8,
    /// 127.0.0.0/8 may be routed (not martian) on this device.
    pub route_localnet: bool,
    /// A packet forwarded back out the device it came in on, from a sender on that link,
    /// gets an ICMP redirect (`ip_rt_send_redirect`). On by default.
    pub send_redirects: bool,
}

impl Default for DevConf {
    /// The kernel's own values (`ipv4_devconf`).
    fn default() -> Self {
        DevConf {
            rp_filter: 0,
            route_localnet: false,
            send_redirects: true,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Sysctls {
    /// net.ipv4.ip_forward (`all.forwarding`)
    pub ip_forward: bool,
    /// net.bridge.bridge-nf-call-iptables (per namespace since Linux 5.3; 1 when
    /// br_netfilter loads)
    pub bridge_nf_call_iptables: bool,
    /// net.ipv4.ip_default_ttl
    pub default_ttl: u8,
    /// net.ipv4.ip_local_port_range
    pub local_port_range: (u16, u16),
    /// net.ipv4.conf.all.*
    pub all: DevConf,
    /// net.ipv4.conf.default.*
    pub default: DevConf,
    /// net.ipv4.conf.DEV.* of the devices set apart from `default`, by device name.
    pub devices: BTreeMap<String, DevConf>,
}

impl Default for Sysctls {
    /// The kernel's own values.
    fn default() -> Self {
        Sysctls {
            ip_forward: false,
            bridge_nf_call_iptables: false,
            default_ttl: 64,
            local_port_range: (32768, 60999),
            all: DevConf::default(),
            default: DevConf::default(),
            devices: BTreeMap::new(),
        }
    }
}

/// One sysctl kpath models.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    IpForward,
    BridgeNfCallIptables,
    DefaultTtl,
    LocalPortRange,
    /// net.ipv4.conf.WHICH.rp_filter (`all`, `default` or a device).
    RpFilter(String),
    RouteLocalnet(String),
    SendRedirects(String),
}

/// The names kpath knows, for hints.
pub const KNOWN: &[&str] = &[
    "net.ipv4.ip_forward",
    "net.bridge.bridge-nf-call-iptables",
    "net.ipv4.ip_default_ttl",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.conf.all.rp_filter",
    "net.ipv4.conf.default.rp_filter",
    "net.ipv4.conf.DEVICE.rp_filter",
    "net.ipv4.conf.all.route_localnet",
    "net.ipv4.conf.default.route_localnet",
    "net.ipv4.conf.DEVICE.route_localnet",
    "net.ipv4.conf.all.send_redirects",
    "net.ipv4.conf.default.send_redirects",
    "net.ipv4.conf.DEVICE.send_redirects",
];

impl Key {
    /// A sysctl name, as `sysctl` writes it (a device's dots as `/`: `flannel/1`).
    pub fn parse(name: &str) -> Result<Key, String> {
        let name = name.trim().replace('/', ".");
        match name.as_str() {
            "net.ipv4.ip_forward" | "net.ipv4.conf.all.forwarding" => return Ok(Key::IpForward),
            "net.bridge.bridge-nf-call-iptables" => return Ok(Key::BridgeNfCallIptables),
            "net.ipv4.ip_default_ttl" => return Ok(Key::DefaultTtl),
            "net.ipv4.ip_local_port_range" => return Ok(Key::LocalPortRange),
            _ => {}
        }
        let Some(rest) = name.strip_prefix("net.ipv4.conf.") else {
            return Err(format!("kpath does not model sysctl `{name}`"));
        };
        let Some((dev, what)) = rest.rsplit_once('.') else {
            return Err(format!("`{name}` names no setting"));
        };
        if dev.is_empty() {
            return Err(format!("`{name}` names no device"));
        }
        match what {
            "rp_filter" => Ok(Key::RpFilter(dev.to_string())),
            "route_localnet" => Ok(Key::RouteLocalnet(dev.to_string())),
            "send_redirects" => Ok(Key::SendRedirects(dev.to_string())),
            _ => Err(format!(
                "kpath does not model sysctl `{name}`: of net.ipv4.conf.*, the datapath reads rp_filter, route_localnet and send_redirects"
            )),
        }
    }

    /// The device a `net.ipv4.conf.DEV.*` key names (not `all` or `default`).
    pub fn device(&self) -> Option<&str> {
        match self {
            Key::RpFilter(d) | Key::RouteLocalnet(d) | Key::SendRedirects(d)
                if d != "all" && d != "default" =>
            {
                Some(d)
            }
            _ => None,
        }
    }
}

impl Sysctls {
    /// A device's own values: set apart, or `default`'s.
    pub fn dev(&self, name: &str) -> DevConf {
        self.devices.get(name).copied().unwrap_or(self.default)
    }

    /// rp_filter in force on a device: the larger of `all` and its own.
    pub fn rp_filter(&self, dev: &str) -> u8 {
        self.all.rp_filter.max(self.dev(dev).rp_filter)
    }

    /// route_localnet in force on a device: `all` or its own.
    pub fn route_localnet(&self, dev: &str) -> bool {
        self.all.route_localnet || self.dev(dev).route_localnet
    }

    /// send_redirects in force on a device: `all` or its own (`IN_DEV_TX_REDIRECTS`).
    pub fn send_redirects(&self, dev: &str) -> bool {
        self.all.send_redirects || self.dev(dev).send_redirects
    }

    /// Set `key` to `value` (as `sysctl -w` takes it); Err says what values it takes.
    pub fn set(&mut self, key: &Key, value: &str) -> Result<(), String> {
        let v = value.trim();
        let flag = |v: &str| match v {
            "0" => Ok(false),
            "1" => Ok(true),
            _ => Err(format!("`{v}` is not 0 or 1")),
        };
        match key {
            Key::IpForward => self.ip_forward = flag(v)?,
            Key::BridgeNfCallIptables => self.bridge_nf_call_iptables = flag(v)?,
            Key::DefaultTtl => {
                self.default_ttl = v
                    .parse::<u8>()
                    .ok()
                    .filter(|t| *t >= 1)
                    .ok_or(format!("`{v}` is not a TTL from 1 to 255"))?
            }
            Key::LocalPortRange => {
                let mut it = v.split_whitespace().map(str::parse::<u16>);
                let range = match (it.next(), it.next(), it.next()) {
                    (Some(Ok(lo)), Some(Ok(hi)), None) if lo >= 1 && lo <= hi => (lo, hi),
                    _ => {
                        return Err(format!(
                            "`{v}` is not a port range: two ports, low then high (\"32768 60999\")"
                        ));
                    }
                };
                self.local_port_range = range;
            }
            Key::RpFilter(which) => {
                let n = match v {
                    "0" => 0,
                    "1" => 1,
                    "2" => 2,
                    _ => return Err(format!("`{v}` is not 0 (off), 1 (strict) or 2 (loose)")),
                };
                self.conf_mut(which).rp_filter = n;
            }
            Key::RouteLocalnet(which) => {
                let on = flag(v)?;
                self.conf_mut(which).route_localnet = on;
            }
            Key::SendRedirects(which) => {
                let on = flag(v)?;
                self.conf_mut(which).send_redirects = on;
            }
        }
        Ok(())
    }

    fn conf_mut(&mut self, which: &str) -> &mut DevConf {
        match which {
            "all" => &mut self.all,
            "default" => &mut self.default,
            dev => {
                let d = self.default;
                self.devices.entry(dev.to_string()).or_insert(d)
            }
        }
    }

    /// What a new namespace created from this one starts with (`devinet_init_net`):
    /// `all` (with forwarding) and `default`; its devices start from `default`.
    pub fn inherited(&self) -> Sysctls {
        Sysctls {
            ip_forward: self.ip_forward,
            all: self.all,
            default: self.default,
            ..Sysctls::default()
        }
    }

    /// Every modelled sysctl with its value, for devices `devices`, sorted by name as
    /// `sysctl -a` prints them (a device's dots as `/`). `bridge` adds
    /// bridge-nf-call-iptables (where br_netfilter is loaded).
    pub fn entries(&self, devices: &[&str], bridge: bool) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = vec![
            (
                "net.ipv4.ip_forward".into(),
                u8::from(self.ip_forward).to_string(),
            ),
            (
                "net.ipv4.ip_default_ttl".into(),
                self.default_ttl.to_string(),
            ),
            (
                "net.ipv4.ip_local_port_range".into(),
                format!("{}\t{}", self.local_port_range.0, self.local_port_range.1),
            ),
        ];
        if bridge {
            out.push((
                "net.bridge.bridge-nf-call-iptables".into(),
                u8::from(self.bridge_nf_call_iptables).to_string(),
            ));
        }
        let mut conf = |which: &str, c: DevConf| {
            let which = which.replace('.', "/");
            out.push((
                format!("net.ipv4.conf.{which}.route_localnet"),
                u8::from(c.route_localnet).to_string(),
            ));
            out.push((
                format!("net.ipv4.conf.{which}.rp_filter"),
                c.rp_filter.to_string(),
            ));
            out.push((
                format!("net.ipv4.conf.{which}.send_redirects"),
                u8::from(c.send_redirects).to_string(),
            ));
        };
        conf("all", self.all);
        conf("default", self.default);
        for d in devices {
            conf(d, self.dev(d));
        }
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_and_the_device_combine_as_the_kernel_combines_them() {
        let mut s = Sysctls::default();
        s.set(&Key::parse("net.ipv4.conf.default.rp_filter").unwrap(), "2")
            .unwrap();
        assert_eq!(s.rp_filter("eth0"), 2, "a device starts from default");
        s.set(&Key::parse("net.ipv4.conf.eth0.rp_filter").unwrap(), "0")
            .unwrap();
        assert_eq!(s.rp_filter("eth0"), 0);
        s.set(&Key::parse("net.ipv4.conf.all.rp_filter").unwrap(), "1")
            .unwrap();
        assert_eq!(s.rp_filter("eth0"), 1, "max(all, dev)");
        assert!(!s.route_localnet("flannel.1"));
        s.set(
            &Key::parse("net.ipv4.conf.all.route_localnet").unwrap(),
            "1",
        )
        .unwrap();
        assert!(s.route_localnet("flannel.1"), "all || dev");
    }

    #[test]
    fn names_are_read_as_sysctl_writes_them_and_bad_ones_say_why() {
        assert_eq!(
            Key::parse("net.ipv4.conf.flannel/1.rp_filter"),
            Ok(Key::RpFilter("flannel.1".into()))
        );
        assert_eq!(Key::parse("net/ipv4/ip_forward"), Ok(Key::IpForward));
        assert!(
            Key::parse("net.ipv4.tcp_syncookies")
                .unwrap_err()
                .contains("does not model")
        );
        assert!(
            Key::parse("net.ipv4.conf.all.accept_local")
                .unwrap_err()
                .contains("send_redirects")
        );
        let mut s = Sysctls::default();
        assert!(
            s.set(&Key::RpFilter("all".into()), "3")
                .unwrap_err()
                .contains("loose")
        );
        assert!(s.set(&Key::LocalPortRange, "60999 32768").is_err());
        s.set(&Key::LocalPortRange, "1024 65535").unwrap();
        assert_eq!(s.local_port_range, (1024, 65535));
    }

    #[test]
    fn entries_print_as_sysctl_a_does() {
        let mut s = Sysctls::default();
        s.all.route_localnet = true;
        let e = s.entries(&["flannel.1"], true);
        assert!(e.contains(&("net.ipv4.conf.flannel/1.rp_filter".into(), "0".into())));
        assert!(e.contains(&("net.ipv4.conf.all.route_localnet".into(), "1".into())));
        assert!(e.windows(2).all(|w| w[0] <= w[1]), "sorted");
    }
}
