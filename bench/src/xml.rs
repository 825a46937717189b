//! Namespace-aware parsing of WebDAV multistatus bodies into the few things the phases
//! check: per response its href, status, and the 2xx-propstat values of getetag,
//! getcontenttype and address-data, plus the sync-token.
//!
//! Servers spell the same document differently (Radicale uses a default namespace,
//! Xandikos `ns0:`, Rolodex `d:`/`card:`), so elements are matched by (namespace, local
//! name), never by prefix.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

const DAV: &str = "DAV:";
const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";

#[derive(Debug, Default, Clone)]
pub struct DavResponse {
    /// As sent, not yet normalised (see [`crate::dav::normalize_href`]).
    pub href: String,
    /// The response-level `<status>` (sync-collection uses it for deleted members).
    pub status: Option<String>,
    pub etag: Option<String>,
    pub content_type: Option<String>,
    pub address_data: Option<String>,
}

#[derive(Debug, Default)]
pub struct Multistatus {
    pub responses: Vec<DavResponse>,
    pub sync_token: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum El {
    Multistatus,
    Response,
    Href,
    Status,
    Propstat,
    Prop,
    Etag,
    ContentType,
    AddressData,
    SyncToken,
    Other,
}

fn classify(ns: &ResolveResult, local: &str) -> El {
    let ns = match ns {
        ResolveResult::Bound(ns) => ns.into_inner(),
        _ => "",
    };
    match (ns, local) {
        (DAV, "multistatus") => El::Multistatus,
        (DAV, "response") => El::Response,
        (DAV, "href") => El::Href,
        (DAV, "status") => El::Status,
        (DAV, "propstat") => El::Propstat,
        (DAV, "prop") => El::Prop,
        (DAV, "getetag") => El::Etag,
        (DAV, "getcontenttype") => El::ContentType,
        (DAV, "sync-token") => El::SyncToken,
        (CARDDAV, "address-data") => El::AddressData,
        _ => El::Other,
    }
}

/// Values of one `<propstat>`, kept only if its status turns out to be 2xx (the status may
/// come before or after the `<prop>`).
#[derive(Default)]
struct Propstat {
    status: Option<String>,
    etag: Option<String>,
    content_type: Option<String>,
    address_data: Option<String>,
}

fn status_is_success(status: &str) -> bool {
    status
        .split_whitespace()
        .nth(1)
        .is_some_and(|code| code.starts_with('2'))
}

pub fn parse_multistatus(body: &str) -> Result<Multistatus, String> {
    let mut reader = NsReader::from_str(body);
    let mut stack: Vec<El> = Vec::new();
    let mut text = String::new();
    let mut out = Multistatus::default();
    let mut response: Option<DavResponse> = None;
    let mut propstat: Option<Propstat> = None;
    loop {
        let position = reader.buffer_position();
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("XML error after byte {position}: {e}"))?;
        match event {
            Event::Start(start) => {
                let el = classify(&ns, start.local_name().as_ref());
                match el {
                    El::Response => response = Some(DavResponse::default()),
                    El::Propstat => propstat = Some(Propstat::default()),
                    _ => {}
                }
                stack.push(el);
                text.clear();
            }
            Event::Empty(_) => {
                // An empty element carries no value (e.g. `<getetag/>` in a 404 propstat).
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(t) => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                if let Some(c) = r.resolve_char_ref().map_err(|e| e.to_string())? {
                    text.push(c);
                } else {
                    let name = r.xml10_content();
                    let resolved = quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or_else(|| format!("unknown entity &{name};"))?;
                    text.push_str(resolved);
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or("unbalanced end tag")?;
                let parent = stack.last().copied();
                let value = std::mem::take(&mut text);
                match (el, parent) {
                    (El::Href, Some(El::Response)) => {
                        if let Some(r) = response.as_mut() {
                            r.href = value.trim().to_string();
                        }
                    }
                    (El::Status, Some(El::Response)) => {
                        if let Some(r) = response.as_mut() {
                            r.status = Some(value.trim().to_string());
                        }
                    }
                    (El::Status, Some(El::Propstat)) => {
                        if let Some(p) = propstat.as_mut() {
                            p.status = Some(value.trim().to_string());
                        }
                    }
                    (El::Etag, Some(El::Prop)) => {
                        if let Some(p) = propstat.as_mut() {
                            p.etag = Some(value.trim().to_string());
                        }
                    }
                    (El::ContentType, Some(El::Prop)) => {
                        if let Some(p) = propstat.as_mut() {
                            p.content_type = Some(value.trim().to_string());
                        }
                    }
                    (El::AddressData, Some(El::Prop)) => {
                        if let Some(p) = propstat.as_mut() {
                            p.address_data = Some(value);
                        }
                    }
                    (El::SyncToken, Some(El::Multistatus)) => {
                        out.sync_token = Some(value.trim().to_string());
                    }
                    (El::Propstat, _) => {
                        if let (Some(p), Some(r)) = (propstat.take(), response.as_mut()) {
                            if p.status.as_deref().is_some_and(status_is_success) {
                                r.etag = r.etag.take().or(p.etag);
                                r.content_type = r.content_type.take().or(p.content_type);
                                r.address_data = r.address_data.take().or(p.address_data);
                            }
                        }
                    }
                    (El::Response, _) => {
                        if let Some(r) = response.take() {
                            out.responses.push(r);
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err("document ended inside an element".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_default_namespace_documents() {
        let body = r#"<?xml version='1.0' encoding='utf-8'?>
<multistatus xmlns="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><sync-token>tok</sync-token><response><href>/b/c/u1.vcf</href><propstat><prop><getetag>"e1"</getetag><CR:address-data>BEGIN:VCARD&#13;
UID:u1 &amp; more
END:VCARD
</CR:address-data></prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>"#;
        let ms = parse_multistatus(body).unwrap();
        assert_eq!(ms.sync_token.as_deref(), Some("tok"));
        assert_eq!(ms.responses.len(), 1);
        let r = &ms.responses[0];
        assert_eq!(r.href, "/b/c/u1.vcf");
        assert_eq!(r.etag.as_deref(), Some("\"e1\""));
        assert!(r.address_data.as_ref().unwrap().contains("UID:u1 & more"));
    }

    #[test]
    fn ignores_values_of_failed_propstats_and_reads_prefixed_names() {
        let body = r#"<ns0:multistatus xmlns:ns0="DAV:"><ns0:response><ns0:href>/a/</ns0:href><ns0:propstat><ns0:status>HTTP/1.1 404 Not Found</ns0:status><ns0:prop><ns0:getetag>"x"</ns0:getetag></ns0:prop></ns0:propstat></ns0:response><ns0:response><ns0:href>/a/b.vcf</ns0:href><ns0:status>HTTP/1.1 404 Not Found</ns0:status></ns0:response></ns0:multistatus>"#;
        let ms = parse_multistatus(body).unwrap();
        assert_eq!(ms.responses.len(), 2);
        assert_eq!(ms.responses[0].etag, None);
        assert_eq!(
            ms.responses[1].status.as_deref(),
            Some("HTTP/1.1 404 Not Found")
        );
    }
}
