//! iproute2's JSON (`ip -j`, `bridge -j`): small serde structs of the fields kpath reads,
//! every other field ignored. Addresses stay text until their family is known (`ip neigh`
//! without `-4` lists IPv6 neighbours too, which kpath skips); a bad value is found again
//! in the text to place its error.

use crate::diag::InputError;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// `ip -j -d link` / `ip -j -d addr`: one device.
#[derive(Deserialize, Debug)]
pub struct JLink {
    pub ifname: String,
    #[serde(default)]
    pub flags: Vec<String>,
    pub mtu: Option<u32>,
    pub link_type: Option<String>,
    pub address: Option<String>,
    pub master: Option<String>,
    pub linkinfo: Option<JLinkInfo>,
    #[serde(default)]
    pub addr_info: Vec<JAddr>,
}

#[derive(Deserialize, Debug)]
pub struct JLinkInfo {
    pub info_kind: Option<String>,
    pub info_data: Option<serde_json::Value>,
    pub info_slave_data: Option<serde_json::Value>,
}

#[derive(Deserialize, Debug)]
pub struct JAddr {
    pub family: Option<String>,
    pub local: Option<String>,
    pub prefixlen: Option<u8>,
}

/// `ip -j route show table all`: one route.
#[derive(Deserialize, Debug)]
pub struct JRoute {
    #[serde(rename = "type")]
    pub rtype: Option<String>,
    pub dst: String,
    pub gateway: Option<String>,
    pub dev: Option<String>,
    pub table: Option<String>,
    pub protocol: Option<String>,
    pub scope: Option<String>,
    pub prefsrc: Option<String>,
    #[serde(default)]
    pub flags: Vec<String>,
    #[serde(default)]
    pub nexthops: Vec<JNexthop>,
}

/// One path of a multipath route.
#[derive(Deserialize, Debug)]
pub struct JNexthop {
    pub gateway: Option<String>,
    pub dev: Option<String>,
    #[serde(default)]
    pub flags: Vec<String>,
}

/// `ip -j neigh`: one entry.
#[derive(Deserialize, Debug)]
pub struct JNeigh {
    pub dst: String,
    pub dev: String,
    pub lladdr: Option<String>,
    #[serde(default)]
    pub state: Vec<String>,
}

/// `bridge -j fdb`: one entry.
#[derive(Deserialize, Debug)]
pub struct JFdb {
    pub mac: String,
    pub ifname: String,
    pub master: Option<String>,
    pub dst: Option<String>,
    pub state: Option<String>,
}

/// A whole file: a JSON array of `T`. Syntax and shape errors come placed by serde_json;
/// an empty file is an empty list (a table with nothing in it).
pub fn list<T: DeserializeOwned>(
    file: &str,
    text: &str,
    command: &str,
) -> Result<Vec<T>, InputError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str::<Vec<T>>(text).map_err(|e| {
        InputError::at(file, text, e.line(), e.column(), e.to_string()).with_hint(format!(
            "this file holds `{command}`'s output: a JSON list (`kpath collect` writes it)"
        ))
    })
}

/// An error about `value`, placed at its first appearance as a JSON string in `text`
/// (after `key` when given, e.g. `"dev":"eth9"`), or on the whole file if not found.
pub fn located(file: &str, text: &str, key: &str, value: &str, message: String) -> InputError {
    let quoted = format!("\"{value}\"");
    let at = text
        .match_indices(&quoted)
        .find(|(i, _)| {
            let before = text[..*i].trim_end();
            let before = before.strip_suffix(':').unwrap_or(before).trim_end();
            key.is_empty() || before.ends_with(&format!("\"{key}\""))
        })
        .map(|(i, _)| i)
        .or_else(|| text.find(&quoted));
    match at {
        Some(i) => {
            let line = text[..i].matches('\n').count() + 1;
            let start = text[..i].rfind('\n').map_or(0, |n| n + 1);
            let column = text[start..i].chars().count() + 1;
            InputError::at(file, text, line, column, message)
        }
        None => InputError::whole_file(file, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_placed_after_its_key() {
        let text = "[{\"dst\":\"eth9\"},\n {\"dev\": \"eth9\"}]";
        let e = located("f", text, "dev", "eth9", "no such device".into());
        assert_eq!((e.line, e.column), (2, 10));
    }

    #[test]
    fn syntax_errors_are_placed() {
        let e = list::<JNeigh>("f", "[{\"dst\": 1}]", "ip -j neigh").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.hint.unwrap().contains("ip -j neigh"));
    }
}
