//! A packet or a flow given on the command line (`kpath trace FILE --from A --to B`),
//! read and checked exactly as a scenario's own: the same endpoint forms, the same checks
//! and hints. An error names the option it is about instead of a line of the file.

use super::validate;
use super::{FlowSpec, PacketSpec, Scenario};

/// What was asked on the command line.
pub struct Adhoc<'a> {
    pub from: &'a str,
    pub to: &'a str,
    /// `tcp`, `udp` or `icmp`, as a scenario writes `protocol:`.
    pub protocol: &'a str,
    /// A whole connection (a flow) instead of one packet.
    pub flow: bool,
}

impl Adhoc<'_> {
    /// The name the trace shows: what was asked.
    pub fn name(&self) -> String {
        format!("{} -> {} ({})", self.from, self.to, self.protocol)
    }
}

/// Add what `a` asks to the scenario as a packet (or a flow) named [`Adhoc::name`], after
/// checking it as the scenario's packets are checked. The error is the option and what
/// is wrong with it: `--to service/default/webb:80: unknown Service ...`, with its hint.
pub fn add(s: &mut Scenario, a: &Adhoc) -> Result<String, String> {
    let name = a.name();
    if s.packet(&name).is_some() || s.flow(&name).is_some() {
        return Ok(name);
    }
    // One line of YAML, so that the values carry locations and the checks read them as
    // they read a scenario's; a location then tells which option an error is about.
    let quote = |v: &str| format!("'{}'", v.replace('\'', "''"));
    let fields = [
        ("name", quote(&name)),
        ("from", quote(a.from)),
        ("to", quote(a.to)),
        ("protocol", quote(a.protocol)),
    ];
    let mut text = String::from("{");
    let mut starts = Vec::new();
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        text.push_str(k);
        text.push_str(": ");
        starts.push((text.chars().count() + 1, *k));
        text.push_str(v);
    }
    text.push('}');
    let option = |column: usize| {
        let at = starts
            .iter()
            .rev()
            .find(|(c, _)| *c <= column)
            .map_or("from", |(_, k)| *k);
        match at {
            "to" => format!("--to {}", a.to),
            "protocol" => format!("--proto {}", a.protocol),
            _ => format!("--from {}", a.from),
        }
    };
    let say = |column: usize, message: &str, hint: Option<&str>| {
        let hint = hint.map(|h| format!("\n  = hint: {h}")).unwrap_or_default();
        format!("{}: {message}{hint}", option(column))
    };
    // The one line read as the scenario reads its entries, then checked alone.
    let yaml_error = |e: serde_saphyr::Error| {
        say(
            e.location().map_or(0, |l| l.column() as usize),
            &super::strip_location(&e.to_string()),
            None,
        )
    };
    let check_error = |e: super::ScenarioError| say(e.column, &e.message, e.hint.as_deref());
    if a.flow {
        let f: FlowSpec = serde_saphyr::from_str(&text).map_err(yaml_error)?;
        validate::check_flow_alone(s, &text, &f).map_err(check_error)?;
        s.flows.push(f);
    } else {
        let p: PacketSpec = serde_saphyr::from_str(&text).map_err(yaml_error)?;
        validate::check_packet_alone(s, &text, &p).map_err(check_error)?;
        s.packets.push(p);
    }
    Ok(name)
}
