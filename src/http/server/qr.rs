//! `--qr`: the server's URL as a QR code, in the terminal at start (to open it
//! on a phone on the same network) and as an inline SVG on listing pages.

use http::header;
use http::request::Parts;
use qrcode::QrCode;
use qrcode::render::{svg, unicode};
use std::net::{IpAddr, SocketAddr};

/// `text` as a QR code of unicode half blocks, two rows a line, light modules
/// drawn (it reads on the usual dark terminal; phones read it inverted too).
pub fn terminal(text: &str) -> Option<String> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<unicode::Dense1x2>()
            .dark_color(unicode::Dense1x2::Light)
            .light_color(unicode::Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

/// `text` as an inline `<svg>` (black on white, whatever the page's theme).
pub(crate) fn svg(text: &str) -> Option<String> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    let image = code
        .render::<svg::Color>()
        .min_dimensions(160, 160)
        .quiet_zone(true)
        .build();
    // The XML declaration belongs to a file, not to an element inside HTML.
    let start = image.find("<svg")?;
    Some(image[start..].to_string())
}

/// The address another machine would use for a server bound to `ip`: itself,
/// unless it is 0.0.0.0 or :: (then the first non-loopback interface address
/// of that family, if any).
pub fn reachable(ip: IpAddr) -> IpAddr {
    if !ip.is_unspecified() {
        return ip;
    }
    if_addrs::get_if_addrs()
        .ok()
        .and_then(|ifs| {
            ifs.into_iter()
                .map(|i| i.ip())
                .find(|a| !a.is_loopback() && a.is_ipv4() == ip.is_ipv4())
        })
        .unwrap_or(ip)
}

/// The URL a phone opens for a server listening on `local`.
pub fn phone_url(local: SocketAddr, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    match reachable(local.ip()) {
        IpAddr::V6(ip) => format!("{scheme}://[{ip}]:{}/", local.port()),
        IpAddr::V4(ip) => format!("{scheme}://{ip}:{}/", local.port()),
    }
}

/// What a listing page needs to show its own URL as a QR code.
pub(crate) struct PageQr {
    /// `https` rather than `http`.
    pub(crate) tls: bool,
    /// Bound to every interface: the address that replaces a loopback Host
    /// (a page opened on this machine as localhost is shown with the LAN address).
    pub(crate) lan: Option<IpAddr>,
}

impl PageQr {
    /// For a server bound to `bind` (`0.0.0.0`, `127.0.0.1`, a name...).
    pub(crate) fn new(bind: &str, tls: bool) -> PageQr {
        let lan = bind
            .parse::<IpAddr>()
            .ok()
            .filter(IpAddr::is_unspecified)
            .map(reachable)
            .filter(|ip| !ip.is_unspecified());
        PageQr { tls, lan }
    }

    /// The URL of the page `req` asked for, as another device would open it.
    pub(crate) fn page_url(&self, req: &Parts) -> String {
        let host = req
            .uri
            .authority()
            .map(|a| a.as_str().to_string())
            .or_else(|| {
                req.headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_string)
            })
            .unwrap_or_default();
        // host[:port], [v6][:port]
        let (name, port) = match host.rfind(':') {
            Some(i) if !host[i..].contains(']') => (&host[..i], &host[i..]),
            _ => (host.as_str(), ""),
        };
        let bare = name.trim_start_matches('[').trim_end_matches(']');
        let loopback = bare.eq_ignore_ascii_case("localhost")
            || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let shown = match self.lan {
            Some(IpAddr::V6(ip)) if loopback => format!("[{ip}]{port}"),
            Some(IpAddr::V4(ip)) if loopback => format!("{ip}{port}"),
            _ => host.clone(),
        };
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{shown}{}", req.uri.path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_page_urls() {
        let t = terminal("http://192.168.1.5:8000/").unwrap();
        assert!(t.lines().count() > 10 && t.contains('\u{2588}'));
        let s = svg("http://192.168.1.5:8000/").unwrap();
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
        let req = http::Request::builder()
            .uri("/a%20b/")
            .header("host", "localhost:8000")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        let lan = PageQr {
            tls: false,
            lan: Some("192.168.1.5".parse().unwrap()),
        };
        assert_eq!(lan.page_url(&req), "http://192.168.1.5:8000/a%20b/");
        let local = PageQr {
            tls: true,
            lan: None,
        };
        assert_eq!(local.page_url(&req), "https://localhost:8000/a%20b/");
    }
}
