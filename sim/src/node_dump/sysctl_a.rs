//! `sysctl -a`: `name = value` lines. Of the thousands, the ones the datapath reads
//! ([`crate::net::sysctl::Key`]) are set; the rest are not kpath's and are passed over.

use crate::diag::InputError;
use crate::net::sysctl::{Key, Sysctls};

/// Apply `sysctl -a`'s values to `into`. `has_device` tells whether a
/// `net.ipv4.conf.DEV.*` key names a device of the dump (others are skipped: a device
/// made between the two commands). Returns how many values were taken.
pub fn apply(
    file: &str,
    text: &str,
    into: &mut Sysctls,
    has_device: impl Fn(&str) -> bool,
) -> Result<usize, InputError> {
    let mut taken = 0;
    for (n, line) in text.lines().enumerate() {
        let Some((name, value)) = line.split_once(" = ").or_else(|| line.split_once('=')) else {
            continue;
        };
        let Ok(key) = Key::parse(name) else {
            continue;
        };
        if key.device().is_some_and(|d| !has_device(d)) {
            continue;
        }
        into.set(&key, value).map_err(|why| {
            let column = line.len() - line.trim_start().len() + name.len() + 1;
            InputError::at(
                file,
                text,
                n + 1,
                column.min(line.chars().count().max(1)),
                format!("{}: {why}", name.trim()),
            )
            .with_hint("this file holds `sysctl -a`'s output: `name = value` lines")
        })?;
        taken += 1;
    }
    Ok(taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modelled_keys_are_taken_and_device_names_keep_their_dots() {
        let text = "kernel.pid_max = 4194304\nnet.ipv4.ip_forward = 1\nnet.ipv4.conf.flannel/1.rp_filter = 2\nnet.ipv4.conf.gone.rp_filter = 1\nnet.ipv4.ip_local_port_range = 32768\t60999\n";
        let mut s = Sysctls::default();
        let n = apply("f", text, &mut s, |d| d == "flannel.1").unwrap();
        assert_eq!(n, 3);
        assert!(s.ip_forward);
        assert_eq!(s.rp_filter("flannel.1"), 2);
        assert!(!s.devices.contains_key("gone"));
    }

    #[test]
    fn a_bad_value_is_placed() {
        let mut s = Sysctls::default();
        let e = apply("f", "net.ipv4.ip_forward = yes\n", &mut s, |_| true).unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("not 0 or 1"), "{}", e.message);
    }
}
