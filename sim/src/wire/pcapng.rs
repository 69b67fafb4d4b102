//! pcapng capture files (draft-ietf-opsawg-pcapng) via the `pcap-file` crate: one section,
//! one Ethernet interface description per simulated interface, one Enhanced Packet Block per
//! record with its trace line as the packet comment.
//!
//! The bytes depend only on the arguments: little-endian whatever the host, a fixed
//! `shb_userappl` and no hardware/OS strings, timestamps only from the records. Interfaces
//! declare `if_tsresol` 9 (nanoseconds) because `pcap-file` 2 writes `Duration::as_nanos()`
//! into the EPB timestamp; with the default resolution (microseconds) readers would be
//! off by 1000x.

use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use pcap_file::{DataLink, Endianness};
use std::borrow::Cow;
use std::time::Duration;

/// Largest frame a reader should expect; tcpdump's default snaplen.
const SNAPLEN: u32 = 262_144;
/// `if_tsresol` 9: timestamps are in units of 10^-9 s.
const TSRESOL_NANOS: u8 = 9;

/// A capture interface, referenced by its index in the slice given to `write_pcapng`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcapInterface {
    /// `if_name`, e.g. `node1/eth0`.
    pub name: String,
    /// `if_description`; omitted when empty.
    pub description: String,
}

/// One captured Ethernet frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcapRecord {
    /// Index into the interfaces.
    pub interface: u32,
    /// Simulated time since the Unix epoch, in nanoseconds.
    pub timestamp_ns: u64,
    /// The whole frame (`Frame::emit`); never truncated.
    pub data: Vec<u8>,
    /// `opt_comment`; omitted when empty.
    pub comment: String,
}

/// The pcapng file for `records` captured on `interfaces`.
pub fn write_pcapng(
    interfaces: &[PcapInterface],
    records: &[PcapRecord],
) -> Result<Vec<u8>, String> {
    let section = SectionHeaderBlock {
        endianness: Endianness::Little,
        options: vec![SectionHeaderOption::UserApplication(Cow::Borrowed("kpath"))],
        ..Default::default()
    };
    let err = |e: pcap_file::PcapError| format!("pcapng: {e}");
    let mut w = PcapNgWriter::with_section_header(Vec::new(), section).map_err(err)?;
    for iface in interfaces {
        let mut options = vec![InterfaceDescriptionOption::IfName(Cow::Borrowed(
            &iface.name,
        ))];
        if !iface.description.is_empty() {
            options.push(InterfaceDescriptionOption::IfDescription(Cow::Borrowed(
                &iface.description,
            )));
        }
        options.push(InterfaceDescriptionOption::IfTsResol(TSRESOL_NANOS));
        let idb = InterfaceDescriptionBlock {
            linktype: DataLink::ETHERNET,
            snaplen: SNAPLEN,
            options,
        };
        w.write_pcapng_block(idb).map_err(err)?;
    }
    for (i, r) in records.iter().enumerate() {
        if r.interface as usize >= interfaces.len() {
            return Err(format!(
                "pcapng: record {i} is on interface {} but only {} are declared",
                r.interface,
                interfaces.len()
            ));
        }
        let original_len = u32::try_from(r.data.len())
            .map_err(|_| format!("pcapng: record {i} is {} bytes", r.data.len()))?;
        let mut options = vec![];
        if !r.comment.is_empty() {
            options.push(EnhancedPacketOption::Comment(Cow::Borrowed(&r.comment)));
        }
        let epb = EnhancedPacketBlock {
            interface_id: r.interface,
            timestamp: Duration::from_nanos(r.timestamp_ns),
            original_len,
            data: Cow::Borrowed(&r.data),
            options,
        };
        w.write_pcapng_block(epb).map_err(err)?;
    }
    Ok(w.into_inner())
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::*;
    use super::*;
    use pcap_file::pcapng::{Block, PcapNgReader};

    fn sample() -> (Vec<PcapInterface>, Vec<PcapRecord>) {
        let ifaces = vec![
            PcapInterface {
                name: "node1/eth0".into(),
                description: "underlay".into(),
            },
            PcapInterface {
                name: "node1/flannel.1".into(),
                description: String::new(),
            },
        ];
        let records = vec![
            PcapRecord {
                interface: 1,
                timestamp_ns: 1_000_000_123,
                data: icmp_frame().emit(),
                comment: icmp_frame().to_string(),
            },
            PcapRecord {
                interface: 0,
                timestamp_ns: 1_000_050_456,
                data: vxlan_frame().emit(),
                comment: "encap vni 1".into(),
            },
            PcapRecord {
                interface: 0,
                timestamp_ns: 1_000_060_000,
                data: arp_frame().emit(),
                comment: String::new(),
            },
        ];
        (ifaces, records)
    }

    #[test]
    fn reads_back_with_exact_timestamps_and_is_deterministic() {
        let (ifaces, records) = sample();
        let bytes = write_pcapng(&ifaces, &records).unwrap();
        assert_eq!(bytes, write_pcapng(&ifaces, &records).unwrap());
        // Section header block type, then the little-endian byte-order magic.
        assert_eq!(&bytes[..4], &[0x0a, 0x0d, 0x0d, 0x0a]);
        assert_eq!(&bytes[8..12], &[0x4d, 0x3c, 0x2b, 0x1a]);

        let mut reader = PcapNgReader::new(&bytes[..]).unwrap();
        let mut got = vec![];
        while let Some(block) = reader.next_block() {
            match block.unwrap() {
                Block::InterfaceDescription(idb) => {
                    assert_eq!(idb.linktype, DataLink::ETHERNET);
                    assert!(
                        idb.options
                            .contains(&InterfaceDescriptionOption::IfTsResol(9))
                    );
                }
                Block::EnhancedPacket(epb) => {
                    let comment = epb.options.iter().find_map(|o| match o {
                        EnhancedPacketOption::Comment(c) => Some(c.to_string()),
                        _ => None,
                    });
                    got.push(PcapRecord {
                        interface: epb.interface_id,
                        timestamp_ns: epb.timestamp.as_nanos() as u64,
                        data: epb.data.to_vec(),
                        comment: comment.unwrap_or_default(),
                    });
                }
                other => panic!("unexpected block {other:?}"),
            }
        }
        assert_eq!(got, records);
        assert_eq!(Frame::parse(&got[1].data, VXLAN_PORTS), Ok(vxlan_frame()));
    }

    #[test]
    fn rejects_undeclared_interface() {
        let (ifaces, records) = sample();
        assert!(write_pcapng(&ifaces[..1], &records).is_err());
    }

    /// Wireshark as an independent check of every checksum, the VXLAN header and the
    /// comment. Skips (passing) where tshark is not installed.
    #[test]
    fn tshark_decodes_vxlan_with_good_checksums() {
        if std::process::Command::new("tshark")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("skipped: tshark not installed");
            return;
        }
        let (ifaces, records) = sample();
        let mut records = records;
        records.push(PcapRecord {
            interface: 0,
            timestamp_ns: 1_000_070_000,
            data: vxlan(syn_frame()).emit(),
            comment: String::new(),
        });
        records.push(PcapRecord {
            interface: 0,
            timestamp_ns: 1_000_080_000,
            data: udp_frame().emit(),
            comment: String::new(),
        });
        let path = std::env::temp_dir().join(format!("kpath-wire-{}.pcapng", std::process::id()));
        std::fs::write(&path, write_pcapng(&ifaces, &records).unwrap()).unwrap();
        let fields = [
            "frame.time_epoch",
            "vxlan.vni",
            "ip.checksum.status",
            "udp.checksum.status",
            "icmp.checksum.status",
            "tcp.checksum.status",
            "frame.comment",
        ];
        let mut cmd = std::process::Command::new("tshark");
        cmd.arg("-r").arg(&path);
        cmd.args([
            "-d",
            "udp.port==8472,vxlan",
            "-T",
            "fields",
            "-E",
            "separator=|",
        ]);
        for o in [
            "ip.check_checksum",
            "udp.check_checksum",
            "tcp.check_checksum",
        ] {
            cmd.args(["-o", &format!("{o}:TRUE")]);
        }
        for f in fields {
            cmd.args(["-e", f]);
        }
        let out = cmd.output().unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // Checksum status 1 = good (0 bad, 2 unverified); one value per layer instance.
        assert_eq!(
            lines,
            [
                "1.000000123||1||1||0a:58:0a:f4:01:02 > 0a:58:0a:f4:01:01, IPv4, \
                 10.244.1.2 > 10.244.2.2: ICMP echo request id 1 seq 1, ttl 64, len 36",
                "1.000050456|1|1,1|1|1||encap vni 1",
                "1.000060000||||||",
                "1.000070000|1|1,1|1||1|",
                "1.000080000||1|1|||",
            ],
            "{text}"
        );
    }
}
