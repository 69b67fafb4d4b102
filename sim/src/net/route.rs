//! Routing tables (`net/ipv4/fib_*`): the local and main tables, longest-prefix match.

use super::link::IfIndex;
use crate::wire::Ipv4Addr;
use crate::wire::Ipv4Net;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RouteTable {
    /// Table 255: addresses of this host, consulted first (fib rule 0).
    Local,
    /// Table 254: everything `ip route` shows (fib rule 32766).
    Main,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RouteType {
    Unicast,
    Local,
    Broadcast,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RouteProto {
    /// Installed by the kernel when an address was added (`proto kernel`).
    Kernel,
    /// Added by a program or an admin (`ip route add`, flannel): printed without `proto`.
    Boot,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Scope {
    Universe,
    Link,
    Host,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub table: RouteTable,
    pub rtype: RouteType,
    pub dst: Ipv4Net,
    pub via: Option<Ipv4Addr>,
    pub dev: IfIndex,
    pub proto: RouteProto,
    pub scope: Scope,
    /// Preferred source address (`src`).
    pub src: Option<Ipv4Addr>,
    /// `onlink`: the gateway is reachable on `dev` even though no prefix covers it.
    pub onlink: bool,
}

impl Route {
    /// The routes `fib_add_ifaddr` installs for a new interface address.
    pub fn for_address(addr: Ipv4Net, dev: IfIndex) -> Vec<Route> {
        let host = |rtype, dst, scope| Route {
            table: RouteTable::Local,
            rtype,
            dst,
            via: None,
            dev,
            proto: RouteProto::Kernel,
            scope,
            src: Some(addr.addr),
            onlink: false,
        };
        let mut v = vec![host(
            RouteType::Local,
            Ipv4Net::new(addr.addr, 32),
            Scope::Host,
        )];
        if addr.addr.is_loopback() {
            // On lo the whole prefix is local: `local 127.0.0.0/8 dev lo` in table local.
            v.push(host(RouteType::Local, addr.network(), Scope::Host));
            v.push(host(
                RouteType::Broadcast,
                Ipv4Net::new(addr.broadcast(), 32),
                Scope::Link,
            ));
        } else if addr.prefix < 31 {
            v.push(Route {
                table: RouteTable::Main,
                ..host(RouteType::Unicast, addr.network(), Scope::Link)
            });
            v.push(host(
                RouteType::Broadcast,
                Ipv4Net::new(addr.broadcast(), 32),
                Scope::Link,
            ));
        }
        v
    }

    /// A static route as `ip route add` / flannel write it.
    pub fn via(dst: Ipv4Net, via: Option<Ipv4Addr>, dev: IfIndex, onlink: bool) -> Route {
        Route {
            table: RouteTable::Main,
            rtype: RouteType::Unicast,
            dst: dst.network(),
            via,
            dev,
            proto: RouteProto::Boot,
            scope: if via.is_some() {
                Scope::Universe
            } else {
                Scope::Link
            },
            src: None,
            onlink,
        }
    }
}

/// `fib_lookup`: the local table first, then main; longest prefix wins within a table,
/// and among equal prefixes the first added (lowest metric in our model).
pub fn lookup<'a, R>(routes: R, dst: Ipv4Addr) -> Option<&'a Route>
where
    R: IntoIterator<Item = &'a Route> + Copy,
{
    [RouteTable::Local, RouteTable::Main].iter().find_map(|t| {
        routes
            .into_iter()
            .filter(|r| r.table == *t && r.dst.contains(dst))
            .fold(None, |best: Option<&Route>, r| match best {
                Some(b) if b.dst.prefix >= r.dst.prefix => Some(b),
                _ => Some(r),
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn longest_prefix_and_local_table_first() {
        let mut routes = Route::for_address(net("10.244.1.1/24"), 4);
        routes.extend(Route::for_address(net("10.244.1.0/32"), 3));
        routes.push(Route::via(
            net("10.244.2.0/24"),
            Some("10.244.2.0".parse().unwrap()),
            3,
            true,
        ));
        routes.push(Route::via(
            Ipv4Net::DEFAULT,
            Some("172.31.0.1".parse().unwrap()),
            2,
            false,
        ));
        let r = lookup(&routes, "10.244.2.7".parse().unwrap()).unwrap();
        assert_eq!((r.dev, r.onlink), (3, true));
        let r = lookup(&routes, "10.244.1.1".parse().unwrap()).unwrap();
        assert_eq!(r.rtype, RouteType::Local);
        let r = lookup(&routes, "10.244.1.9".parse().unwrap()).unwrap();
        assert_eq!((r.dev, r.proto), (4, RouteProto::Kernel));
        let r = lookup(&routes, "8.8.8.8".parse().unwrap()).unwrap();
        assert_eq!(r.dst, Ipv4Net::DEFAULT);
        // A /32 address adds no prefix route and no broadcast.
        assert_eq!(Route::for_address(net("10.244.1.0/32"), 3).len(), 1);
    }

    #[test]
    fn no_route() {
        let routes = Route::for_address(net("10.244.1.2/24"), 2);
        assert!(lookup(&routes, "10.244.2.2".parse().unwrap()).is_none());
    }
}
