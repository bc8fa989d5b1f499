//! A small real SMTP server for tests: speaks enough of RFC 5321 (EHLO/HELO, MAIL, RCPT, DATA,
//! RSET, NOOP, QUIT) for a client to deliver, and keeps what it received. Optionally it offers
//! STARTTLS (RFC 3207) and demands AUTH PLAIN (RFC 4954) over the encrypted connection, as a
//! mail relay of a ministry would.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A received mail: its recipients, the user it was sent as (if any) and its raw message.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub user: Option<String>,
    pub data: String,
}

impl Mail {
    /// The message as a reader sees it: a quoted-printable body decoded (soft line breaks
    /// joined, `=XX` bytes restored).
    pub fn text(&self) -> String {
        if !self.data.contains("quoted-printable") {
            return self.data.clone();
        }
        let joined = self.data.replace("=\r\n", "").replace("=\n", "");
        let bytes = joined.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
                (b'=', Some(b)) => {
                    out.push(b);
                    i += 3;
                }
                (c, _) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// STARTTLS with this certificate, then AUTH PLAIN with these credentials.
#[derive(Clone)]
pub struct Secure {
    pub tls: Arc<rustls::ServerConfig>,
    pub user: String,
    pub password: String,
}

impl Secure {
    /// A self-signed certificate for 127.0.0.1; returns the settings and the certificate's PEM
    /// (the CA a client must trust).
    pub fn self_signed(user: &str, password: &str) -> (Secure, String) {
        dtr_gateway::tls::install_crypto_provider();
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::try_from(ck.signing_key.serialize_der()).unwrap();
        let tls = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![ck.cert.der().clone()], key)
            .unwrap();
        (Secure { tls: Arc::new(tls), user: user.into(), password: password.into() }, ck.cert.pem())
    }
}

pub struct SmtpServer {
    pub mails: Arc<Mutex<Vec<Mail>>>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpServer {
    /// Listens on 127.0.0.1:`port` until stopped or dropped.
    pub async fn start(port: u16) -> SmtpServer {
        Self::start_with(port, None).await
    }

    pub async fn start_with(port: u16, secure: Option<Secure>) -> SmtpServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind smtp");
        let mails = Arc::new(Mutex::new(Vec::new()));
        let store = mails.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else { return };
                let (store, secure) = (store.clone(), secure.clone());
                tokio::spawn(async move {
                    let _ = connection(socket, store, secure).await;
                });
            }
        });
        SmtpServer { mails, task }
    }

    pub fn received(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    /// Stops listening (the port is free again once the task has ended).
    pub async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn connection(
    mut socket: tokio::net::TcpStream,
    store: Arc<Mutex<Vec<Mail>>>,
    secure: Option<Secure>,
) -> std::io::Result<()> {
    socket.write_all(b"220 test-smtp ESMTP\r\n").await?;
    let Some(secure) = secure else {
        session(socket, &store, None).await?;
        return Ok(());
    };
    // Until STARTTLS nothing but the greeting commands; then a new session over TLS.
    let Some(plain) = session(socket, &store, Some((&secure, false))).await? else { return Ok(()) };
    let tls = tokio_rustls::TlsAcceptor::from(secure.tls.clone()).accept(plain).await?;
    session(tls, &store, Some((&secure, true))).await?;
    Ok(())
}

/// One SMTP session; returns the stream when the client asked for STARTTLS.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    store: &Mutex<Vec<Mail>>,
    secure: Option<(&Secure, bool)>,
) -> std::io::Result<Option<S>> {
    let mut stream = BufReader::new(stream);
    let mut to = Vec::new();
    let mut user: Option<String> = None;
    let mut line = String::new();
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let l = line.trim_end().to_owned();
        let verb = l.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        let needs_auth = secure.is_some() && user.is_none();
        let reply: Vec<u8> = match (verb.as_str(), secure) {
            ("EHLO" | "HELO", None) => b"250 test-smtp\r\n".to_vec(),
            ("EHLO" | "HELO", Some((_, false))) => b"250-test-smtp\r\n250 STARTTLS\r\n".to_vec(),
            ("EHLO" | "HELO", Some((_, true))) => b"250-test-smtp\r\n250 AUTH PLAIN\r\n".to_vec(),
            ("STARTTLS", Some((_, false))) => {
                stream.get_mut().write_all(b"220 go ahead\r\n").await?;
                return Ok(Some(stream.into_inner()));
            }
            ("AUTH", Some((s, true))) => {
                let b64 = l.split_whitespace().nth(2).unwrap_or("");
                use base64::Engine;
                let raw = base64::engine::general_purpose::STANDARD.decode(b64).unwrap_or_default();
                let parts: Vec<&[u8]> = raw.split(|b| *b == 0).collect();
                if parts.len() == 3 && parts[1] == s.user.as_bytes() && parts[2] == s.password.as_bytes() {
                    user = Some(s.user.clone());
                    b"235 authenticated\r\n".to_vec()
                } else {
                    b"535 bad credentials\r\n".to_vec()
                }
            }
            ("MAIL" | "RCPT" | "DATA", _) if needs_auth => b"530 authentication required\r\n".to_vec(),
            ("MAIL", _) => {
                to.clear();
                b"250 OK\r\n".to_vec()
            }
            ("RCPT", _) => {
                let addr = l.split_once(':').map(|(_, a)| a.trim().trim_matches(['<', '>']).to_owned());
                to.extend(addr);
                b"250 OK\r\n".to_vec()
            }
            ("DATA", _) => {
                stream.get_mut().write_all(b"354 end with .\r\n").await?;
                let mut data = String::new();
                let mut dl = String::new();
                loop {
                    dl.clear();
                    if stream.read_line(&mut dl).await? == 0 {
                        return Ok(None);
                    }
                    let d = dl.trim_end_matches(['\r', '\n']);
                    if d == "." {
                        break;
                    }
                    data.push_str(d.strip_prefix('.').unwrap_or(d));
                    data.push('\n');
                }
                store.lock().unwrap().push(Mail { to: std::mem::take(&mut to), user: user.clone(), data });
                b"250 queued\r\n".to_vec()
            }
            ("RSET" | "NOOP", _) => b"250 OK\r\n".to_vec(),
            ("QUIT", _) => {
                stream.get_mut().write_all(b"221 bye\r\n").await?;
                return Ok(None);
            }
            _ => b"502 not implemented\r\n".to_vec(),
        };
        stream.get_mut().write_all(&reply).await?;
    }
}
