//! `endpointSlices:` in a scenario: EndpointSlices written by hand, as a Service without a
//! selector needs them (the `kubernetes` Service's API server endpoints, an external
//! database behind a ClusterIP). kube-proxy reads every slice labelled with a Service's
//! name, whoever wrote it; the EndpointSlice controller's own slices are derived from the
//! selectors and pods (`cluster::endpoint_slices`), so they are not written here.

use crate::cluster::{self, EndpointConditions};
use crate::wire::IpProtocol;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EndpointSliceSpec {
    pub name: Spanned<String>,
    #[serde(default = "super::default_namespace")]
    pub namespace: String,
    /// The Service it belongs to (the `kubernetes.io/service-name` label).
    pub service: Spanned<String>,
    #[serde(default)]
    pub ports: Vec<SlicePortSpec>,
    #[serde(default)]
    pub endpoints: Vec<SliceEndpointSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SlicePortSpec {
    /// The Service port's name ("" or left out when it has none).
    #[serde(default)]
    pub name: Option<String>,
    pub port: Spanned<u16>,
    #[serde(default)]
    pub protocol: IpProtocol,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SliceEndpointSpec {
    /// One address, as kube-proxy reads it (the API allows one per endpoint for IPv4).
    pub addresses: Vec<Spanned<Ipv4Addr>>,
    /// `conditions.ready` (default true): serving and not terminating.
    #[serde(default)]
    pub ready: Option<bool>,
    /// `conditions.serving` (default: as ready).
    #[serde(default)]
    pub serving: Option<bool>,
    #[serde(default)]
    pub terminating: bool,
    /// The node it runs on, for externalTrafficPolicy/internalTrafficPolicy Local.
    #[serde(default)]
    pub node_name: Option<Spanned<String>>,
}

impl EndpointSliceSpec {
    pub fn model(&self) -> cluster::EndpointSlice {
        cluster::EndpointSlice {
            namespace: self.namespace.clone(),
            name: self.name.value.clone(),
            service: self.service.value.clone(),
            ports: (self.ports.iter())
                .map(|p| cluster::EndpointPort {
                    name: p.name.clone().unwrap_or_default(),
                    port: p.port.value,
                    protocol: p.protocol,
                })
                .collect(),
            endpoints: (self.endpoints.iter())
                .flat_map(|e| {
                    let ready = e.ready.unwrap_or(true);
                    e.addresses.iter().map(move |a| cluster::Endpoint {
                        address: a.value,
                        conditions: EndpointConditions {
                            ready,
                            serving: e.serving.unwrap_or(ready),
                            terminating: e.terminating,
                        },
                        node_name: e.node_name.as_ref().map_or("", |n| &n.value).to_string(),
                        pod: String::new(),
                    })
                })
                .collect(),
        }
    }
}
