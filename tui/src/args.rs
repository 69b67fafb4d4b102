//! Command-line arguments: the clap types and their value parsers. What each command does
//! is in cmd/, one file per command.

use clap::{Args, Parser, Subcommand, ValueEnum};
use kpath_sim::wire::IpProtocol;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "kpath",
    version,
    about = "Watch a packet cross Linux and Kubernetes networking, step by step, offline"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per run: the size of its largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Trace a packet of a scenario through the simulated kernel, one step per kernel stage.
    Trace {
        /// The scenario file (YAML).
        #[arg(required_unless_present_any = ["iptables_save", "nft_ruleset", "node_dump"])]
        scenario: Option<PathBuf>,
        /// Rules-only mode: an iptables-save dump from a node, instead of a scenario.
        #[arg(long, value_name = "FILE", requires_all = ["src", "dst"])]
        iptables_save: Option<PathBuf>,
        /// Rules-only mode: a node's `nft list ruleset` (or an `nft -f` file, such as
        /// kube-proxy's nftables-mode transaction), alone or beside --iptables-save: its
        /// base chains run at their hooks and priorities among iptables' tables.
        #[arg(long, value_name = "FILE", requires_all = ["src", "dst"])]
        nft_ruleset: Option<PathBuf>,
        /// A real node's whole dump: the directory `kpath collect`'s script writes on it
        /// (its rules, ipsets, IPVS table, nftables ruleset, devices, addresses, routes,
        /// neighbours, FDB and sysctls). The node's own tables decide where the packet
        /// enters and leaves, and the one engine walks it.
        #[arg(long, value_name = "DIR", requires_all = ["src", "dst"],
              conflicts_with_all = ["iptables_save", "nft_ruleset", "ipset_save", "ipvsadm_save", "out_iface"])]
        node_dump: Option<PathBuf>,
        /// Rules-only mode: the packet's source address.
        #[arg(long, value_name = "IP", value_parser = parse_ipv4)]
        src: Option<std::net::Ipv4Addr>,
        /// Rules-only mode: the destination, IP:PORT.
        #[arg(long, value_name = "IP:PORT")]
        dst: Option<String>,
        /// The protocol of an ad-hoc packet (--from/--to) or of rules-only mode's.
        #[arg(long, default_value = "tcp", value_parser = parse_proto())]
        proto: IpProtocol,
        /// Rules-only mode: an address of the node (repeat for each); decides
        /// `-m addrtype LOCAL` and whether the packet is for the node.
        #[arg(long = "local-ip", value_name = "IP", value_parser = parse_ipv4)]
        local_ips: Vec<std::net::Ipv4Addr>,
        /// Rules-only mode: the interface the packet comes in by, as `-i` rules name it
        /// (`cni0`, `eth0`); without it, an unnamed one, which the answer says.
        #[arg(long = "in-iface", value_name = "NAME")]
        in_iface: Option<String>,
        /// Rules-only mode: the interface the packet leaves by, as `-o` rules name it.
        #[arg(long = "out-iface", value_name = "NAME")]
        out_iface: Option<String>,
        /// Rules-only mode: refuse a dump that uses a match or target kpath does not model
        /// (all of them listed with their places) instead of reading past them.
        #[arg(long)]
        strict: bool,
        /// Rules-only mode: the node's ipsets (`ipset save` or `ipset list`), for `-m set` rules.
        #[arg(long, value_name = "FILE", requires = "iptables_save")]
        ipset_save: Option<PathBuf>,
        /// Rules-only mode: the node's IPVS table (`ipvsadm-save -n`), for kube-proxy's
        /// IPVS mode: a packet for a virtual service goes on to each real server the
        /// scheduler can pick.
        #[arg(long, value_name = "FILE", requires = "iptables_save")]
        ipvsadm_save: Option<PathBuf>,
        /// The packet to send (its `name:` in the scenario). With neither --packet nor
        /// --flow, every packet and flow of the scenario.
        #[arg(long, short, conflicts_with = "flow")]
        packet: Option<String>,
        /// The flow to run: every packet of a connection or exchange, replies included.
        /// Without a NAME, with --from and --to: that connection.
        #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "")]
        flow: Option<String>,
        /// Send a packet the scenario does not define, from this endpoint: pod/NS/NAME,
        /// node/NAME, host/NAME or an IP (with --to; --proto, tcp by default; --flow for the
        /// whole connection).
        #[arg(
            long,
            value_name = "ENDPOINT",
            requires = "to",
            conflicts_with = "packet"
        )]
        from: Option<String>,
        /// The ad-hoc packet's destination: service/NS/NAME:PORT, pod/NS/NAME:PORT,
        /// node/NAME:PORT, host/NAME:PORT, IP:PORT or a DNS name.
        #[arg(long, value_name = "ENDPOINT", requires = "from")]
        to: Option<String>,
        /// List every possible outcome of the random choices (kube-proxy's endpoint pick)
        /// with its probability, instead of the one the seed picks; each outcome's trace in
        /// its brief form (--full for every step).
        #[arg(long)]
        all_outcomes: bool,
        #[arg(long, short = 'o', value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Manifests to apply to the cluster first, as `kubectl apply -f` would (a file or
        /// a directory of them; repeat for more): Deployment, ReplicaSet, StatefulSet,
        /// DaemonSet, Pod, Service, EndpointSlice, NetworkPolicy.
        #[arg(long = "filename", short = 'f', value_name = "FILE_OR_DIR")]
        manifests: Vec<PathBuf>,
        /// Print each step's plain-words explanation (text format).
        #[arg(long, short)]
        explain: bool,
        /// At every netfilter step, list the rules of its chain the packet met before it,
        /// each with the first condition that failed and the packet's value (a drop or a
        /// reject always lists them).
        #[arg(long)]
        why: bool,
        /// One line per hop or decision (the packet leaving a namespace, a route, a rule
        /// that changed the packet or decided, conntrack, NAT, the tunnel, the end) instead
        /// of every step.
        #[arg(long)]
        brief: bool,
        /// With --all-outcomes, each outcome's every step (its brief form is the default).
        #[arg(long, conflicts_with = "brief")]
        full: bool,
        #[command(flatten)]
        world: WorldArgs,
    },
    /// Draw a packet's or a flow's journey: a Mermaid sequence diagram (namespaces and
    /// devices, hooks and NAT as notes, the VXLAN stretch highlighted), or an SVG of the
    /// cluster's topology with the path drawn across it.
    Diagram {
        scenario: PathBuf,
        /// The packet to draw.
        #[arg(long, short, required_unless_present = "flow", conflicts_with = "flow")]
        packet: Option<String>,
        /// Or a whole flow, every packet of it.
        #[arg(long)]
        flow: Option<String>,
        #[arg(long, short, value_enum)]
        format: DiagramFormat,
        /// Write it to this file instead of printing it.
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        world: WorldArgs,
    },
    /// Write the packet's journey as a pcapng capture: one interface per link it crossed.
    Pcap {
        scenario: PathBuf,
        /// The packet to capture.
        #[arg(long, short, required_unless_present = "flow", conflicts_with = "flow")]
        packet: Option<String>,
        /// Or a whole flow: every packet of it in one capture.
        #[arg(long)]
        flow: Option<String>,
        /// Where to write the capture.
        #[arg(long, short)]
        output: PathBuf,
        #[command(flatten)]
        world: WorldArgs,
    },
    /// Check every expectation of the scenarios (and their golden traces).
    Test {
        /// Scenario files or folders (searched recursively); default ./scenarios.
        paths: Vec<PathBuf>,
        #[arg(long, short, value_enum, default_value_t = TestFormat::Text)]
        format: TestFormat,
        /// Write each scenario's golden trace (NAME.golden beside NAME.yaml) instead of
        /// comparing it.
        #[arg(long)]
        bless: bool,
        #[arg(long, value_parser = parse_seed, allow_hyphen_values = true)]
        seed: Option<u64>,
    },
    /// Print the Linux state of a node or pod as `ip`, `bridge`, `sysctl` and `ss` print it.
    Show {
        scenario: PathBuf,
        /// A node's host namespace.
        #[arg(long, conflicts_with = "pod")]
        node: Option<String>,
        /// A pod's namespace, as NAMESPACE/NAME.
        #[arg(long)]
        pod: Option<String>,
        /// Print the node's netfilter rules as `iptables-save` prints them instead.
        #[arg(long, conflicts_with = "ipvs")]
        iptables: bool,
        /// Print what kube-proxy in IPVS mode programs on the node for this scenario's
        /// Services: `ipvsadm -Ln`, `ipvsadm-save -n`, `ipset save` and its iptables rules.
        #[arg(long, conflicts_with = "pod")]
        ipvs: bool,
        /// Print, as `nft list ruleset` does, the `ip kube-proxy` table kube-proxy v1.33 in
        /// nftables mode writes on the node for this scenario's Services (`nft -f` loads it).
        #[arg(long, conflicts_with_all = ["pod", "ipvs", "iptables"])]
        nft: bool,
        #[arg(long, value_parser = parse_seed, allow_hyphen_values = true)]
        seed: Option<u64>,
    },
    /// Step through a scenario's packets in the terminal, forward and back (`?` lists the keys).
    Tui {
        scenario: PathBuf,
        /// Start with this packet or flow (its `name:`); every one can be picked with `t`.
        #[arg(long, short, conflicts_with = "from")]
        packet: Option<String>,
        /// Start with a packet the scenario does not define (a kubectl dump defines none),
        /// from this endpoint, as trace's --from (with --to; --proto, tcp by default).
        #[arg(long, value_name = "ENDPOINT", requires = "to")]
        from: Option<String>,
        /// The ad-hoc packet's destination, as trace's --to.
        #[arg(long, value_name = "ENDPOINT", requires = "from")]
        to: Option<String>,
        /// The ad-hoc packet's protocol.
        #[arg(long, default_value = "tcp", value_parser = parse_proto())]
        proto: IpProtocol,
        /// Manifests to apply to the cluster first (as trace's -f).
        #[arg(long = "filename", short = 'f', value_name = "FILE_OR_DIR")]
        manifests: Vec<PathBuf>,
        #[command(flatten)]
        world: WorldArgs,
    },
    /// Build a scenario for real out of network namespaces (needs root), to explore with
    /// ping, tcpdump and iptables-save beside kpath's trace.
    Lab {
        #[arg(value_enum)]
        action: LabAction,
        scenario: PathBuf,
        #[arg(long, value_parser = parse_seed, allow_hyphen_values = true)]
        seed: Option<u64>,
    },
    /// Send the scenario's packets through the real kernel in a lab (needs root) and
    /// compare the kernel's rule-by-rule path, fate, arrival and VXLAN headers with kpath's.
    Verify {
        scenario: PathBuf,
        /// Only this packet or flow (its `name:`); default every packet and flow.
        #[arg(long, short)]
        packet: Option<String>,
        /// Leave the lab up afterwards, to look around (remove it with `kpath lab down`).
        #[arg(long)]
        keep: bool,
        #[arg(long, value_parser = parse_seed, allow_hyphen_values = true)]
        seed: Option<u64>,
    },
    /// Write a cluster of a chosen size as a scenario (to stdout), or one node's dump of it:
    /// N ClusterIP Services of E endpoints on K nodes, for trying kpath at scale.
    Generate {
        /// How many ClusterIP Services.
        #[arg(long)]
        services: usize,
        /// Ready endpoints per Service.
        #[arg(long, default_value_t = 5)]
        endpoints: usize,
        /// Nodes (flannel VXLAN on one underlay).
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        /// Groups of backend pods the Services share (Service i selects group i mod
        /// GROUPS); the count of --services gives every Service pods of its own.
        #[arg(long, default_value_t = 10)]
        groups: usize,
        /// kube-proxy's mode: iptables, ipvs or nftables.
        #[arg(long, value_name = "MODE", default_value = "iptables")]
        proxy_mode: String,
        /// Print node-1's dump in this format instead of the scenario.
        #[arg(long, value_enum)]
        dump: Option<DumpFormat>,
    },
    /// Walk the scenario's packets in each kube-proxy mode and show them side by side:
    /// fate, where the destination was translated and by which hook, rules matched and
    /// looked at, and the endpoints every outcome reaches. Exit status 1 when the modes
    /// reach different endpoints.
    Compare {
        scenario: PathBuf,
        /// The modes, comma-separated.
        #[arg(long, value_name = "MODES", default_value = "iptables,ipvs,nftables")]
        proxy_modes: String,
        /// Only this packet (its `name:`).
        #[arg(long, short, conflicts_with = "flow")]
        packet: Option<String>,
        /// Only this flow (its `name:`); its first packet is compared.
        #[arg(long)]
        flow: Option<String>,
        #[arg(long, short, value_enum, default_value_t = Format::Text)]
        format: Format,
        #[arg(long, value_parser = parse_seed, allow_hyphen_values = true)]
        seed: Option<u64>,
    },
    /// The reachability matrix between the scenario's pods under its NetworkPolicies, a
    /// row per source and a column per destination (`.` allowed, `X` blocked), as
    /// Kubernetes' e2e netpol suite prints it; with --with, how more policies change it.
    Policy {
        scenario: PathBuf,
        /// PORT[/PROTOCOL] (tcp by default), repeated for each; every port the pods
        /// declare when left out.
        #[arg(long, value_name = "PORT[/PROTO]")]
        port: Vec<String>,
        /// A file of NetworkPolicies (`networkPolicies: [...]`, as in a scenario) to try
        /// before anyone applies them: the matrix with them, and every connection they
        /// change with the policies that decide it.
        #[arg(long, value_name = "FILE")]
        with: Option<PathBuf>,
        #[arg(long, short = 'o', value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Manifests to apply to the cluster first (as trace's -f).
        #[arg(long = "filename", short = 'f', value_name = "FILE_OR_DIR")]
        manifests: Vec<PathBuf>,
    },
    /// Print a small POSIX script that gathers a real node's dump for `kpath trace
    /// --node-dump DIR`: its iptables-save, ipset save, ipvsadm-save -n, nft list ruleset,
    /// ip -j -d addr and link, ip -j route show table all, ip -j neigh, bridge -j fdb and
    /// sysctl -a. Run it as root on the node: `kpath collect > collect.sh; sh collect.sh DIR`.
    Collect,
    /// Make a scenario of a cluster as `kubectl` shows it: `kpath import kubectl DUMP -o
    /// scenario.yaml`, where DUMP is `kubectl get nodes,namespaces,pods,services,
    /// endpointslices,networkpolicies -A -o yaml` (or -o json). trace, test, tui and
    /// policy also take the dump itself in place of a scenario.
    Import {
        #[arg(value_enum)]
        source: ImportSource,
        /// The dump.
        dump: PathBuf,
        /// Write the scenario here instead of printing it.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// The cluster's pod network (flannel's Network), when the dump does not hold
        /// flannel's ConfigMap.
        #[arg(long, value_name = "CIDR")]
        pod_cidr: Option<String>,
        /// kube-apiserver's --service-cluster-ip-range, when the dump holds no ServiceCIDR.
        #[arg(long, value_name = "CIDR")]
        service_cidr: Option<String>,
        /// kube-proxy's mode, when the dump does not hold its ConfigMap.
        #[arg(long, value_enum)]
        proxy_mode: Option<ProxyModeArg>,
    },
}

impl Command {
    /// `kpath trace`'s flags that belong to the other mode than the one given: a rules-only
    /// run (--iptables-save, --nft-ruleset) sends one packet to a ruleset and lists every
    /// outcome; a scenario run walks a cluster. A flag of the other mode would be ignored,
    /// so it is refused, named.
    pub fn misplaced_trace_flag(&self) -> Option<String> {
        let Command::Trace {
            scenario,
            iptables_save,
            nft_ruleset,
            node_dump,
            src,
            dst,
            local_ips,
            in_iface,
            out_iface,
            ipset_save,
            ipvsadm_save,
            strict,
            packet,
            flow,
            from,
            all_outcomes,
            explain,
            why,
            brief,
            full,
            manifests,
            world,
            ..
        } = self
        else {
            return None;
        };
        let rules_only = iptables_save.is_some() || nft_ruleset.is_some() || node_dump.is_some();
        let name = |given: &[(bool, &'static str)]| given.iter().find(|(g, _)| *g).map(|(_, n)| *n);
        if rules_only {
            if let Some(s) = scenario {
                return Some(format!(
                    "{} is a scenario, and --iptables-save/--nft-ruleset/--node-dump ask for rules-only mode\n  = hint: give one: a scenario (its nodes' rules are built), or a node's dumps with --src and --dst",
                    s.display()
                ));
            }
            let misplaced = name(&[
                (packet.is_some(), "--packet"),
                (flow.is_some(), "--flow"),
                (from.is_some(), "--from/--to"),
                (!manifests.is_empty(), "-f/--filename"),
                (*all_outcomes, "--all-outcomes"),
                (*explain, "--explain"),
                (*why, "--why"),
                (*brief, "--brief"),
                (*full, "--full"),
                (world.seed.is_some(), "--seed"),
            ]);
            return misplaced.map(|f| {
                format!("{f} is for a scenario; rules-only mode sends the one packet --src/--dst describe and lists every outcome with its probability\n  = hint: leave {f} out, or trace a scenario instead")
            });
        }
        let misplaced = name(&[
            (src.is_some(), "--src"),
            (dst.is_some(), "--dst"),
            (!local_ips.is_empty(), "--local-ip"),
            (in_iface.is_some(), "--in-iface"),
            (out_iface.is_some(), "--out-iface"),
            (ipset_save.is_some(), "--ipset-save"),
            (ipvsadm_save.is_some(), "--ipvsadm-save"),
            (*strict, "--strict"),
        ]);
        misplaced.map(|f| {
            format!("{f} is for rules-only mode (with --iptables-save, --nft-ruleset or --node-dump); a scenario's packets are named, or sent with --from and --to\n  = hint: kpath trace SCENARIO --from pod/NS/NAME --to service/NS/NAME:PORT")
        })
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ImportSource {
    /// A `kubectl get ... -o yaml|json` dump.
    Kubectl,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ProxyModeArg {
    Iptables,
    Ipvs,
    Nftables,
}

/// How the world a walk starts from is set up: its seed, and how name lookups are shown.
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct WorldArgs {
    /// Seed of the world's RNG; overrides the scenario's `seed:`.
    #[arg(long, value_parser = parse_seed, allow_hyphen_values = true)]
    pub seed: Option<u64>,
    /// How a DNS name in `to:` is looked up: `packets` walks each query to the cluster DNS
    /// Service and CoreDNS's answer back before the packet; `short` states the answers in
    /// one step.
    #[arg(long, value_enum, default_value_t = DnsForm::Packets)]
    pub dns: DnsForm,
}

#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DnsForm {
    #[default]
    Packets,
    Short,
}

/// `--seed N`: clap's own message for `abc` ("invalid digit found in string") names no
/// range, and `-1` was taken for an unknown flag; both now say what a seed is.
fn parse_seed(text: &str) -> Result<u64, String> {
    text.parse::<u64>().map_err(|_| {
        format!(
            "`{text}` is not a seed\n  = hint: a seed is a whole number from 0 to {}",
            u64::MAX
        )
    })
}

/// `--src`/`--local-ip`: clap's "invalid IPv4 address syntax" says neither what was
/// expected nor that IPv6 and names are not taken.
fn parse_ipv4(text: &str) -> Result<std::net::Ipv4Addr, String> {
    text.parse().map_err(|_| {
        format!(
            "`{text}` is not an IPv4 address\n  = hint: four numbers from 0 to 255, e.g. 10.244.1.2 (kpath models IPv4 only; no host names)"
        )
    })
}

/// A node's dump, as the node's own tools print it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum DumpFormat {
    /// `iptables-save`
    IptablesSave,
    /// `ipset save`
    IpsetSave,
    /// `ipvsadm-save -n`
    IpvsadmSave,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum LabAction {
    /// Create the namespaces, links, routes and rules of the scenario.
    Up,
    /// Remove them again.
    Down,
    /// Answer DNS on UDP 53 as the scenario's CoreDNS would (`lab up` starts it in each
    /// CoreDNS pod).
    #[value(hide = true)]
    Dns,
    /// Send as a plan file says (`verify` runs it in the lab; the file stands where the
    /// scenario does).
    #[value(hide = true)]
    Send,
    /// Serve as a spec file says (`verify` runs it in the lab).
    #[value(hide = true)]
    Serve,
}

/// `--proto`: the protocols kpath sends, by name.
fn parse_proto() -> impl clap::builder::TypedValueParser<Value = IpProtocol> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(["tcp", "udp", "icmp"]).map(|p| match p.as_str() {
        "udp" => IpProtocol::Udp,
        "icmp" => IpProtocol::Icmp,
        _ => IpProtocol::Tcp,
    })
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DiagramFormat {
    /// A Mermaid sequence diagram (GitHub renders it in a ```mermaid block).
    Mermaid,
    /// The topology with the path, as SVG.
    Svg,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum TestFormat {
    Text,
    Json,
    Junit,
}
