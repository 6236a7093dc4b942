//! The attributes an envelope's fields are made of, found in one pass over a span's
//! attributes.

use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;

use super::tags::{Tag, Tags, tag_index};

/// The attributes the envelope fields are made of, found in one pass (the last of a repeated
/// key wins, as in the crate's hash map).
#[derive(Default)]
pub(super) struct Known<'a> {
    pub(super) method: Option<&'a Value>,
    pub(super) method_old: Option<&'a Value>,
    pub(super) route: Option<&'a Value>,
    pub(super) status: Option<&'a Value>,
    pub(super) status_old: Option<&'a Value>,
    pub(super) url_full: Option<&'a Value>,
    pub(super) http_url: Option<&'a Value>,
    pub(super) url_path: Option<&'a Value>,
    pub(super) url_query: Option<&'a Value>,
    pub(super) http_target: Option<&'a Value>,
    pub(super) url_scheme: Option<&'a Value>,
    pub(super) http_scheme: Option<&'a Value>,
    pub(super) header_host: Option<&'a Value>,
    pub(super) http_host: Option<&'a Value>,
    pub(super) server_address: Option<&'a Value>,
    pub(super) net_host_name: Option<&'a Value>,
    pub(super) server_port: Option<&'a Value>,
    pub(super) net_host_port: Option<&'a Value>,
    pub(super) client_address: Option<&'a Value>,
    pub(super) http_client_ip: Option<&'a Value>,
    pub(super) network_peer_address: Option<&'a Value>,
    pub(super) client_socket_address: Option<&'a Value>,
    pub(super) net_sock_peer_addr: Option<&'a Value>,
    pub(super) net_peer_ip: Option<&'a Value>,
    pub(super) network_peer_port: Option<&'a Value>,
    pub(super) server_socket_address: Option<&'a Value>,
    pub(super) server_socket_port: Option<&'a Value>,
    pub(super) net_sock_peer_name: Option<&'a Value>,
    pub(super) net_peer_name: Option<&'a Value>,
    pub(super) net_sock_peer_port: Option<&'a Value>,
    pub(super) net_peer_port: Option<&'a Value>,
    pub(super) db_query_text: Option<&'a Value>,
    pub(super) db_statement: Option<&'a Value>,
    pub(super) db_namespace: Option<&'a Value>,
    pub(super) db_name: Option<&'a Value>,
    pub(super) db_system_name: Option<&'a Value>,
    pub(super) db_system: Option<&'a Value>,
    pub(super) messaging_system: Option<&'a Value>,
    pub(super) rpc_system_name: Option<&'a Value>,
    pub(super) rpc_system: Option<&'a Value>,
    pub(super) rpc_grpc_status_code: Option<&'a Value>,
    pub(super) user_id: Option<&'a Value>,
    pub(super) enduser_id: Option<&'a Value>,
    /// `_MS.sampleRate`: the span's own sampling percentage (its parent decided).
    pub(super) sample_rate: Option<&'a Value>,
    pub(super) http_prefix: bool,
    pub(super) db_prefix: bool,
}

impl<'a> Known<'a> {
    /// Scans `span`'s attributes; `ai.*` attributes that name a known tag go into `tags`.
    pub(super) fn scan(span: &'a SpanData, tags: &mut Tags<'a>) -> Known<'a> {
        let mut k = Known::default();
        for kv in &span.attributes {
            let key = kv.key.as_str();
            let v = Some(&kv.value);
            let slot = match key {
                "http.request.method" => &mut k.method,
                "http.method" => &mut k.method_old,
                "http.route" => &mut k.route,
                "http.response.status_code" => &mut k.status,
                "http.status_code" => &mut k.status_old,
                "url.full" => &mut k.url_full,
                "http.url" => &mut k.http_url,
                "url.path" => &mut k.url_path,
                "url.query" => &mut k.url_query,
                "http.target" => &mut k.http_target,
                "url.scheme" => &mut k.url_scheme,
                "http.scheme" => &mut k.http_scheme,
                "http.request.header.host" => &mut k.header_host,
                "http.host" => &mut k.http_host,
                "server.address" => &mut k.server_address,
                "net.host.name" => &mut k.net_host_name,
                "server.port" => &mut k.server_port,
                "net.host.port" => &mut k.net_host_port,
                "client.address" => &mut k.client_address,
                "http.client_ip" => &mut k.http_client_ip,
                "network.peer.address" => &mut k.network_peer_address,
                "client.socket.address" => &mut k.client_socket_address,
                "net.sock.peer.addr" => &mut k.net_sock_peer_addr,
                "net.peer.ip" => &mut k.net_peer_ip,
                "network.peer.port" => &mut k.network_peer_port,
                "server.socket.address" => &mut k.server_socket_address,
                "server.socket.port" => &mut k.server_socket_port,
                "net.sock.peer.name" => &mut k.net_sock_peer_name,
                "net.peer.name" => &mut k.net_peer_name,
                "net.sock.peer.port" => &mut k.net_sock_peer_port,
                "net.peer.port" => &mut k.net_peer_port,
                "db.query.text" => &mut k.db_query_text,
                "db.statement" => &mut k.db_statement,
                "db.namespace" => &mut k.db_namespace,
                "db.name" => &mut k.db_name,
                "db.system.name" => &mut k.db_system_name,
                "db.system" => &mut k.db_system,
                "messaging.system" => &mut k.messaging_system,
                "rpc.system.name" => &mut k.rpc_system_name,
                "rpc.system" => &mut k.rpc_system,
                "rpc.grpc.status_code" => &mut k.rpc_grpc_status_code,
                "user.id" => &mut k.user_id,
                "enduser.id" => &mut k.enduser_id,
                crate::samplers::SAMPLE_RATE_KEY => &mut k.sample_rate,
                _ => {
                    if key.starts_with("ai.")
                        && let Some(i) = tag_index(key)
                    {
                        tags[i] = Some(Tag::Value(&kv.value));
                    }
                    if key.starts_with("http.") {
                        k.http_prefix = true;
                    } else if key.starts_with("db.") {
                        k.db_prefix = true;
                    }
                    continue;
                }
            };
            *slot = v;
            if key.starts_with("http.") {
                k.http_prefix = true;
            } else if key.starts_with("db.") {
                k.db_prefix = true;
            }
        }
        k
    }
}
