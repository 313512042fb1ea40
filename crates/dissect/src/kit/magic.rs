//! What a body or attachment is, from its first bytes: the MIME type of the formats
//! analysts look for in transfers (archives, programs, images, media, markup), by
//! the signatures those formats begin with. The names are the ones Arkime files in
//! `http.bodymagic` and `email.bodymagic` (its `basic` magic mode, which needs no
//! libmagic): searches written for Arkime find the same sessions. Text that is no
//! markup, and binary data of no listed format, get no name. (A few signatures are
//! read more closely than Arkime reads them: RIFF's forms, ISO media, and the
//! spanned-archive marker of zip.)

/// Bytes of a body's start that [`sniff`] looks at (a tar header's `ustar` ends at
/// 262).
pub(crate) const SNIFF_BYTES: usize = 264;

/// The MIME type `data` (a body's first bytes, up to [`SNIFF_BYTES`]) begins as.
pub(crate) fn sniff(data: &[u8]) -> Option<&'static str> {
    if data.len() < 5 {
        return None;
    }
    let at = |offset: usize, sig: &[u8]| data.get(offset..offset + sig.len()) == Some(sig);
    // As `at`, with bytes after the signature (a signature that fills the data is
    // not taken for the format).
    let at_then = |offset: usize, sig: &[u8]| data.len() > offset + sig.len() && at(offset, sig);
    let at_nocase =
        |offset: usize, sig: &[u8]| data.get(offset..offset + sig.len()).is_some_and(|d| d.eq_ignore_ascii_case(sig));
    let contains =
        |from: usize, needle: &[u8]| data.get(from..).is_some_and(|d| d.windows(needle.len()).any(|w| w == needle));
    let found = match data[0] {
        0 => {
            if data.len() > 10 && at(4, b"ftyp") && at(8, b"qt") {
                Some("video/quicktime")
            } else if data.len() > 10 && at(4, b"ftyp") && at(8, b"3g") {
                Some("video/3gpp")
            } else if data.len() > 10 && at(4, b"ftyp") && [&b"iso"[..], b"mp4", b"avc1"].iter().any(|b| at(8, b)) {
                Some("video/mp4")
            } else if at(0, b"\0\x01\0\0\0") {
                Some("application/x-font-ttf")
            } else if at_then(0, b"\0\0\x02\0\x01\0") {
                Some("image/x-win-bitmap")
            } else {
                None
            }
        }
        // Matroska's EBML header, with its document type.
        0x1a if at(0, b"\x1a\x45\xdf\xa3") => {
            if contains(4, b"webm") {
                Some("video/webm")
            } else if contains(4, b"matroska") {
                Some("video/x-matroska")
            } else {
                None
            }
        }
        0x1f if data[1] == 0x8b => Some("application/x-gzip"),
        0x1f if data[1] == 0x9d => Some("application/x-compress"),
        b'!' if at_then(1, b"<arch>\ndebian-binary") => Some("application/x-debian-package"),
        b'#' if data[1] == b'!' => Some(if contains(3, b"node") {
            "application/javascript"
        } else if contains(3, b"perl") {
            "text/x-perl"
        } else if contains(3, b"ruby") {
            "text/x-ruby"
        } else if contains(3, b"python") {
            "text/x-python"
        } else {
            "text/x-shellscript"
        }),
        b'%' if at(0, b"%PDF-") => Some("application/pdf"),
        b'<' => {
            if data.len() > 14 && at_nocase(0, b"<!doctype html") {
                Some("text/html")
            } else if data.len() > 13 && at_nocase(0, b"<!doctype svg") {
                Some("text/svg+xml")
            } else if at_nocase(0, b"<?xml") {
                Some(if contains(5, b"<svg") { "image/svg+xml" } else { "text/xml" })
            } else if data[1] == b'?'
                && ((data.len() > 5 && at_nocase(2, b"php")) || (data.len() > 6 && at_nocase(2, b" php")))
            {
                Some("text/x-php")
            } else if at_nocase(0, b"<body") || at_nocase(0, b"<head") || at_nocase(0, b"<html") {
                Some("text/html")
            } else if at_nocase(0, b"<svg") {
                Some("image/svg")
            } else {
                None
            }
        }
        b'{' if data[1] == b'"' && data[2].is_ascii_alphabetic() => Some("application/json"),
        b'8' if at(0, b"8BPS") => Some("image/vnd.adobe.photoshop"),
        b'B' if data[1] == b'M' => Some("application/x-ms-bmp"),
        b'B' if at(0, b"BZh") => Some("application/x-bzip2"),
        b'C' if at(0, b"CWS") => Some("application/x-shockwave-flash"),
        b'F' if at(0, b"FLV\x01") => Some("video/x-flv"),
        b'G' if at(0, b"GIF8") => Some("image/gif"),
        // MPEG transport stream: a sync byte every 188 bytes.
        b'G' if data.len() > 188 && data[2] == 0 && data[188] == b'G' => Some("video/mp2t"),
        b'i' if at(0, b"icns") => Some("image/x-icns"),
        b'I' if at(0, b"ID3") => Some("audio/mpeg"),
        b'M' if data[1] == b'Z' => Some("application/x-dosexec"),
        b'M' if at_then(0, b"MSCF\0\0") => Some("application/vnd.ms-cab-compressed"),
        // Ogg pages, by the codec their first packet names.
        b'O' if data.len() > 40 && at(0, b"OggS") => {
            if at(28, b"Speex   ") || at(29, b"FLAC") || at(28, b"\x01vorbis") {
                Some("audio/ogg")
            } else if at(28, b"\x80theora") {
                Some("video/ogg")
            } else {
                None
            }
        }
        b'O' if at(0, b"OTTO") => Some("application/vnd.ms-opentype"),
        b'P' if at(0, b"PK\x03\x04") || at(0, b"PK\x05\x06") || at_then(0, b"PK\x07\x08PK") => Some("application/zip"),
        // RIFF, by the form it holds (Arkime names every RIFF file a WAVE sound).
        b'R' if at(0, b"RIFF") => {
            if at(8, b"WAVE") {
                Some("audio/x-wav")
            } else if at(8, b"WEBP") {
                Some("image/webp")
            } else if at(8, b"AVI ") {
                Some("video/x-msvideo")
            } else {
                None
            }
        }
        b'R' if at(0, b"Rar!\x1a") => Some("application/x-rar"),
        b'W' if at(0, b"WAVE") => Some("audio/x-wav"),
        b'd' if at_then(0, b"d8:announce") => Some("application/x-bittorrent"),
        b'w' if at(0, b"wOFF") => Some("application/font-woff"),
        b'w' if at(0, b"wOF2") => Some("application/font-woff2"),
        0x89 if at(0, b"\x89PNG") => Some("image/png"),
        0xfd if at_then(0, b"\xfd7zXZ") => Some("application/x-xz"),
        0xff if data.len() > 10 && at(0, b"\xff\xd8\xff") => Some("image/jpeg"),
        0xed if data.len() > 10 && at(0, b"\xed\xab\xee\xdb") => Some("application/x-rpm"),
        _ => None,
    };
    found.or_else(|| {
        if at_then(257, b"ustar") {
            Some("application/x-tar")
        } else if contains(0, b"document.write") || contains(0, b"'use strict'") {
            Some("text/javascript")
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_their_first_bytes() {
        assert_eq!(sniff(b"\x1f\x8b\x08\0\0\0\0\0"), Some("application/x-gzip"));
        assert_eq!(sniff(b"PK\x03\x04\x14\0\0\0"), Some("application/zip"));
        assert_eq!(sniff(b"GIF89a\x01\0\x01\0"), Some("image/gif"));
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01"), Some("image/jpeg"));
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0"), None, "too short to tell");
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n"), Some("image/png"));
        assert_eq!(sniff(b"RIFF\x24\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"\0\0\0\x20ftypisom\0\0\x02\0"), Some("video/mp4"));
        assert_eq!(sniff(b"MZ\x90\0\x03\0\0\0"), Some("application/x-dosexec"));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(sniff(b"<!DOCTYPE html>\n<html>"), Some("text/html"));
        assert_eq!(sniff(b"<HTML><HEAD>"), Some("text/html"));
        assert_eq!(sniff(b"<?xml version=\"1.0\"?><svg xmlns"), Some("image/svg+xml"));
        assert_eq!(sniff(b"<?xml version=\"1.0\"?><feed>"), Some("text/xml"));
        assert_eq!(sniff(b"{\"name\": 1}"), Some("application/json"));
        assert_eq!(sniff(b"{ \"name\": 1}"), None);
        assert_eq!(sniff(b"#!/usr/bin/env python3\n"), Some("text/x-python"));
        assert_eq!(sniff(b"#!/bin/sh\necho"), Some("text/x-shellscript"));
        // Plain text and unknown binary data are not named.
        assert_eq!(sniff(b"hello, world\n"), None);
        assert_eq!(sniff(&[0x42, 0x00, 0x13, 0x37, 0x99, 0x10]), None);
        assert_eq!(sniff(b"abcd"), None, "fewer than five bytes");
        // A transport stream's sync bytes, and a tar header's magic at 257.
        let mut ts = vec![0u8; 200];
        ts[0] = b'G';
        ts[188] = b'G';
        assert_eq!(sniff(&ts), Some("video/mp2t"));
        let mut tar = vec![b'a'; SNIFF_BYTES];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(sniff(&tar), Some("application/x-tar"));
        assert_eq!(sniff(&tar[..262]), None, "the magic must not end the data");
    }
}
